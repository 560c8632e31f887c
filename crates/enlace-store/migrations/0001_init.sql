-- 0001: the first schema of the desktop cache.
-- Never edit a released migration: add the next numbered file instead.

-- Calls as the phone line reported them. Timestamps are milliseconds since the Unix epoch (UTC).
CREATE TABLE calls (
    id                TEXT    PRIMARY KEY NOT NULL,
    line_call_id      TEXT    NOT NULL,
    direction         TEXT    NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    peer_number       TEXT    NOT NULL,
    peer_display_name TEXT,
    local_number      TEXT,
    status            TEXT    NOT NULL CHECK (status IN ('ringing', 'answered', 'ended')),
    started_at        INTEGER NOT NULL,
    answered_at       INTEGER,
    ended_at          INTEGER,
    duration_seconds  INTEGER NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
    end_reason        TEXT    CHECK (end_reason IS NULL OR end_reason IN
                          ('completed', 'busy', 'no_answer', 'rejected', 'line_lost', 'failed')),
    end_detail        TEXT,
    -- 'pending': waiting in Llamadas to be logged; 'ignored': dismissed; 'logged': in the CRM.
    log_state         TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (log_state IN ('pending', 'ignored', 'logged')),
    updated_at        INTEGER NOT NULL
) STRICT;

-- Llamadas: ended calls waiting to be logged, newest first.
CREATE INDEX calls_pending_newest ON calls (started_at DESC)
    WHERE log_state = 'pending' AND status = 'ended';
-- Historial: every call, newest first.
CREATE INDEX calls_history_newest ON calls (started_at DESC);

-- Every dial request, successful or not (what was typed or clicked, and what we made of it).
CREATE TABLE dial_attempts (
    id         INTEGER PRIMARY KEY,
    input      TEXT    NOT NULL CHECK (length(input) <= 256),
    target     TEXT,
    error_code TEXT,
    source     TEXT    NOT NULL CHECK (source IN ('link', 'ui', 'cli')),
    created_at INTEGER NOT NULL,
    call_id    TEXT    REFERENCES calls (id) ON DELETE SET NULL
) STRICT;

CREATE INDEX dial_attempts_newest ON dial_attempts (created_at DESC);

-- Settings: one JSON document per key.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Local cache of CRM contacts and leads.
CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    crm          TEXT    NOT NULL CHECK (crm IN ('salesforce', 'zoho')),
    crm_id       TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('contact', 'lead')),
    first_name   TEXT,
    last_name    TEXT,
    email        TEXT,
    phone        TEXT,
    mobile       TEXT,
    company      TEXT,
    -- digits-only forms of phone and mobile, space-separated ("50688881234 88881234")
    phone_digits TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL,
    UNIQUE (crm, crm_id)
) STRICT;

-- Full-text index over contacts (external content: the text lives in `contacts` only).
CREATE VIRTUAL TABLE contacts_fts USING fts5 (
    first_name, last_name, email, phone_digits,
    content = 'contacts',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
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
