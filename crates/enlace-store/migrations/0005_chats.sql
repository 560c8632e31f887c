-- 0005: the inbox (Omnicanalidad) cache: WhatsApp conversations as the hub last told, their
-- messages and internal comments, and the messages typed here that the hub has not taken yet.
-- Ids of conversations, comments and `hub_id` of messages are the hub's. Times are ms (UTC).
-- Never edit a released migration: add the next numbered file instead.

CREATE TABLE chat_conversations (
    id               INTEGER PRIMARY KEY,
    phone_number_id  TEXT    NOT NULL,
    business_number  TEXT    NOT NULL DEFAULT '',
    wa_id            TEXT    NOT NULL,
    -- E.164 (`+5215512345678`) and number key (`enlace_core::NumberKey`) of the customer.
    customer         TEXT    NOT NULL,
    number_key       TEXT    NOT NULL,
    -- The CRM name from the contacts cache, resolved when the row is written.
    customer_name    TEXT,
    profile_name     TEXT    NOT NULL DEFAULT '',
    queue            TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL CHECK (state IN ('open', 'attended')),
    agent_id         INTEGER,
    agent_name       TEXT,
    mine             INTEGER NOT NULL DEFAULT 0 CHECK (mine IN (0, 1)),
    unread           INTEGER NOT NULL DEFAULT 0 CHECK (unread >= 0),
    last_message_at  INTEGER NOT NULL,
    window_ends_at   INTEGER,
    -- The last message cached (the panel's line), by its timeline position `seq`.
    preview          TEXT    NOT NULL DEFAULT '',
    preview_kind     TEXT    NOT NULL DEFAULT '',
    preview_outgoing INTEGER NOT NULL DEFAULT 0 CHECK (preview_outgoing IN (0, 1)),
    preview_seq      INTEGER,
    -- The cache holds every message from hub id `synced_from` to the newest (NULL: unknown);
    -- `synced_all`: and none older exists at the hub.
    synced_from      INTEGER,
    synced_all       INTEGER NOT NULL DEFAULT 0 CHECK (synced_all IN (0, 1)),
    updated_at       INTEGER NOT NULL
) STRICT;

-- The panel: open conversations, latest activity first (mine / queues / unassigned).
CREATE INDEX chat_conversations_open ON chat_conversations (last_message_at DESC, id DESC)
    WHERE state = 'open';
-- The badge: open conversations assigned to this agent.
CREATE INDEX chat_conversations_mine ON chat_conversations (unread) WHERE state = 'open' AND mine = 1;
-- Search (any state), latest first.
CREATE INDEX chat_conversations_latest ON chat_conversations (last_message_at DESC, id DESC);

-- Messages. `seq` orders a conversation's timeline: the hub id once the hub has the message,
-- else 2^53 + the row id (typed here, not taken yet: after every hub message).
CREATE TABLE chat_messages (
    id              INTEGER PRIMARY KEY,
    seq             INTEGER NOT NULL,
    hub_id          INTEGER UNIQUE,
    client_id       TEXT    UNIQUE,
    conversation_id INTEGER NOT NULL,
    wamid           TEXT,
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    kind            TEXT    NOT NULL,
    text            TEXT,
    content         TEXT    NOT NULL DEFAULT 'null',
    media_id        TEXT,
    reply_to        TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'queued', 'sending',
                        'accepted', 'sent', 'delivered', 'read', 'played', 'failed', 'received')),
    error_code      INTEGER,
    error_kind      TEXT,
    error_title     TEXT,
    error_details   TEXT,
    agent_id        INTEGER,
    at              INTEGER NOT NULL
) STRICT;

-- A page of a timeline: the messages of a conversation before a position, newest first.
CREATE INDEX chat_messages_timeline ON chat_messages (conversation_id, seq);
CREATE INDEX chat_messages_pending ON chat_messages (conversation_id) WHERE status = 'pending';

-- Internal comments (never sent to the customer).
CREATE TABLE chat_comments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL,
    agent_name      TEXT,
    body            TEXT    NOT NULL,
    at              INTEGER NOT NULL
) STRICT;

CREATE INDEX chat_comments_timeline ON chat_comments (conversation_id, at);

-- Messages typed here that the hub has not taken yet, sent in `id` order (the hub's
-- `SendMessageRequest` without the client id, as JSON). The message row with the same
-- `client_id` shows it `pending`; both change in one transaction when the hub answers.
CREATE TABLE chat_sends (
    id              INTEGER PRIMARY KEY,
    client_id       TEXT    UNIQUE NOT NULL,
    conversation_id INTEGER NOT NULL,
    message         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
