-- 0003: CRM linking. Linked accounts (never their tokens), the CRM record attached to a call,
-- the outbox of CRM writes, and a caller-ID index over the contacts cache.
-- Never edit a released migration: add the next numbered file instead.

-- One linked account per CRM: the non-secret account description as JSON (owned by the app).
-- The tokens live in the OS keyring (`enlace-secrets`), under a reference derived from it.
CREATE TABLE crm_accounts (
    crm          TEXT    PRIMARY KEY NOT NULL CHECK (crm IN ('salesforce', 'zoho')),
    account_json TEXT    NOT NULL,
    linked_at    INTEGER NOT NULL
) STRICT;

-- The CRM record a call is about. `record_id` is NULL while the record's creation waits in the
-- outbox; `pending_record_key` is then that outbox entry's idempotency key.
ALTER TABLE calls ADD COLUMN record_crm TEXT
    CHECK (record_crm IS NULL OR record_crm IN ('salesforce', 'zoho'));
ALTER TABLE calls ADD COLUMN record_kind TEXT
    CHECK (record_kind IS NULL OR record_kind IN ('contact', 'lead'));
ALTER TABLE calls ADD COLUMN record_id TEXT;
ALTER TABLE calls ADD COLUMN record_name TEXT;
ALTER TABLE calls ADD COLUMN pending_record_key TEXT;
-- "Asunto" and "Comentario" as the agent saved them.
ALTER TABLE calls ADD COLUMN subject TEXT;
ALTER TABLE calls ADD COLUMN comment TEXT;

CREATE INDEX calls_pending_record_key ON calls (pending_record_key)
    WHERE pending_record_key IS NOT NULL;

-- CRM writes waiting to be delivered, delivered in order per CRM (see `outbox.rs`).
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY,
    idempotency_key    TEXT    UNIQUE NOT NULL,
    crm                TEXT    NOT NULL CHECK (crm IN ('salesforce', 'zoho')),
    kind               TEXT    NOT NULL CHECK (kind IN ('create_contact', 'log_call')),
    call_id            TEXT    REFERENCES calls (id) ON DELETE SET NULL,
    payload            TEXT    NOT NULL,
    state              TEXT    NOT NULL
                           CHECK (state IN ('pending', 'in_flight', 'delivered', 'needs_attention')),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at    INTEGER NOT NULL,
    last_error_code    TEXT,
    last_error_message TEXT,
    last_error_field   TEXT,
    result_id          TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

-- The head of each CRM's queue: the oldest entry not delivered yet.
CREATE INDEX outbox_undelivered ON outbox (crm, id) WHERE state <> 'delivered';
-- A call's writes, and the calls with writes still to deliver (Llamadas).
CREATE INDEX outbox_call ON outbox (call_id, id) WHERE call_id IS NOT NULL;
CREATE INDEX outbox_attention ON outbox (id) WHERE state = 'needs_attention';

-- The contacts cache is refilled from the CRMs (nothing filled it before this version). Its
-- phone forms are now computed with the agent's country, so start it afresh, and rebuild the
-- full-text index with prefix indexes for search-as-you-type.
DROP TRIGGER contacts_fts_after_insert;
DROP TRIGGER contacts_fts_after_delete;
DROP TRIGGER contacts_fts_after_update;
DROP TABLE contacts_fts;
DELETE FROM contacts;

CREATE VIRTUAL TABLE contacts_fts USING fts5 (
    first_name, last_name, email, phone_digits,
    content = 'contacts',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);

CREATE TRIGGER contacts_fts_after_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone_digits)
    VALUES (new.id, new.first_name, new.last_name, new.email, new.phone_digits);
END;

CREATE TRIGGER contacts_fts_after_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone_digits)
    VALUES ('delete', old.id, old.first_name, old.last_name, old.email, old.phone_digits);
END;

CREATE TRIGGER contacts_fts_after_update AFTER UPDATE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone_digits)
    VALUES ('delete', old.id, old.first_name, old.last_name, old.email, old.phone_digits);
    INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone_digits)
    VALUES (new.id, new.first_name, new.last_name, new.email, new.phone_digits);
END;

-- Caller ID: every digit form of every stored phone and mobile (E.164 digits, national
-- significant number, digits as stored), looked up by exact digits. `e164` is the E.164 digits
-- of the stored number the form came from (NULL when it is not a valid number), so a national
-- number shared by two countries is not taken for the caller's. `tail` (the last 7 digits of
-- forms of 7 digits or more) finds numbers the numbering data does not know yet by their
-- ending ("+506 8237-5850" stored, "8237 5850" calling).
CREATE TABLE contact_phones (
    digits     TEXT    NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    e164       TEXT,
    tail       TEXT,
    PRIMARY KEY (digits, contact_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX contact_phones_contact ON contact_phones (contact_id);
CREATE INDEX contact_phones_tail ON contact_phones (tail) WHERE tail IS NOT NULL;
