-- Enlace hub schema, version 3: WhatsApp conversations (the hub side of the Cloud API).
-- Portable SQL like 0001: BIGINT millisecond timestamps, INTEGER flags, TEXT elsewhere.

-- Every signed webhook body, stored before the 200 and processed after it.
CREATE TABLE wa_webhooks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    body         TEXT   NOT NULL,
    received_at  BIGINT NOT NULL,
    processed_at BIGINT,
    error        TEXT
);
CREATE INDEX wa_webhooks_pending ON wa_webhooks(processed_at, id);

-- One per (business number, customer): `customer_key` is the customer's number key
-- (enlace_core::NumberKey of the wa_id, or the wa_id's digits when it does not resolve), so
-- `5215512345678` and `525512345678` are one conversation; `wa_id` is the latest address the
-- customer wrote from (or a send reply named), the one the outbox sends to.
CREATE TABLE wa_conversations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number_id  TEXT    NOT NULL,
    customer_key     TEXT    NOT NULL,
    wa_id            TEXT    NOT NULL,
    profile_name     TEXT    NOT NULL DEFAULT '',
    queue            TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL,
    agent_id         BIGINT REFERENCES agents(id),
    last_agent_id    BIGINT,
    last_customer_at BIGINT,
    window_warned_at BIGINT,
    unread           BIGINT  NOT NULL DEFAULT 0,
    last_message_at  BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    UNIQUE (phone_number_id, customer_key)
);
CREATE INDEX wa_conversations_agent ON wa_conversations(agent_id, state);

-- Inbound and outbound messages; outbound ones are the outbox while `status` is queued.
CREATE TABLE wa_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT  NOT NULL REFERENCES wa_conversations(id),
    direction       TEXT    NOT NULL,
    wamid           TEXT UNIQUE,
    client_id       TEXT UNIQUE,
    msg_type        TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    media_id        TEXT,
    status          TEXT    NOT NULL,
    status_rank     BIGINT  NOT NULL DEFAULT 0,
    error_code      BIGINT,
    error_title     TEXT,
    error_details   TEXT,
    agent_id        BIGINT,
    at              BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX wa_messages_conversation ON wa_messages(conversation_id, id);
CREATE INDEX wa_messages_outbox ON wa_messages(status, next_attempt_at);

-- Statuses whose message is not known yet (they came before the send reply).
CREATE TABLE wa_early_statuses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    wamid         TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    status_rank   BIGINT NOT NULL,
    error_code    BIGINT,
    error_title   TEXT,
    error_details TEXT,
    at            BIGINT NOT NULL
);
CREATE INDEX wa_early_statuses_wamid ON wa_early_statuses(wamid);

CREATE TABLE wa_comments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES wa_conversations(id),
    agent_id        BIGINT NOT NULL REFERENCES agents(id),
    body            TEXT   NOT NULL,
    at              BIGINT NOT NULL
);

CREATE TABLE wa_quick_addresses (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT   NOT NULL UNIQUE,
    address    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE wa_canned_responses (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    shortcut   TEXT   NOT NULL UNIQUE,
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- The WABA's templates as last fetched.
CREATE TABLE wa_templates (
    name       TEXT   NOT NULL,
    language   TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    category   TEXT   NOT NULL,
    components TEXT   NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (name, language)
);

-- Media kept by the hub (bytes in the object store, never here).
CREATE TABLE wa_media (
    id          TEXT   NOT NULL PRIMARY KEY,
    mime_type   TEXT   NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT   NOT NULL,
    filename    TEXT,
    wa_media_id TEXT,
    created_at  BIGINT NOT NULL
);

-- Facts for administrators (token expired, unknown number, ...), newest last.
CREATE TABLE wa_alerts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    code    TEXT   NOT NULL,
    detail  TEXT   NOT NULL,
    at      BIGINT NOT NULL
);
