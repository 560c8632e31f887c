-- 0006: the outbox also carries attended WhatsApp conversations to the CRM (kind 'log_chat'),
-- tied to the conversation they log (`conversation_id`, the hub's id) instead of a call.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same rows
-- (nothing references the outbox), then its indexes are made again.
-- Never edit a released migration: add the next numbered file instead.

CREATE TABLE outbox_new (
    id                     INTEGER PRIMARY KEY,
    idempotency_key        TEXT    UNIQUE NOT NULL,
    crm                    TEXT    NOT NULL CHECK (crm IN ('salesforce', 'zoho')),
    kind                   TEXT    NOT NULL
                               CHECK (kind IN ('create_contact', 'log_call', 'log_chat')),
    call_id                TEXT    REFERENCES calls (id) ON DELETE SET NULL,
    payload                TEXT    NOT NULL,
    state                  TEXT    NOT NULL
                               CHECK (state IN ('pending', 'in_flight', 'delivered', 'needs_attention')),
    attempts               INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at        INTEGER NOT NULL,
    last_error_code        TEXT,
    last_error_message     TEXT,
    last_error_field       TEXT,
    result_id              TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    last_error_record_kind TEXT
        CHECK (last_error_record_kind IS NULL OR last_error_record_kind IN ('contact', 'lead')),
    last_error_record_id   TEXT,
    conversation_id        INTEGER,
    CHECK ((kind = 'log_chat') = (conversation_id IS NOT NULL))
) STRICT;

INSERT INTO outbox_new (id, idempotency_key, crm, kind, call_id, payload, state, attempts,
        next_attempt_at, last_error_code, last_error_message, last_error_field, result_id,
        created_at, updated_at, last_error_record_kind, last_error_record_id)
    SELECT id, idempotency_key, crm, kind, call_id, payload, state, attempts,
        next_attempt_at, last_error_code, last_error_message, last_error_field, result_id,
        created_at, updated_at, last_error_record_kind, last_error_record_id
    FROM outbox;

DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;

-- As in 0003: each CRM's queue head, a call's writes, the writes that need the agent.
CREATE INDEX outbox_undelivered ON outbox (crm, id) WHERE state <> 'delivered';
CREATE INDEX outbox_call ON outbox (call_id, id) WHERE call_id IS NOT NULL;
CREATE INDEX outbox_attention ON outbox (id) WHERE state = 'needs_attention';
-- A conversation's transcript writes.
CREATE INDEX outbox_conversation ON outbox (conversation_id, id)
    WHERE conversation_id IS NOT NULL;
