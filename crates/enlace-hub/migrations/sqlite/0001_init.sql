-- Enlace hub schema, version 1. Portable SQL: BIGINT millisecond timestamps, INTEGER flags,
-- TEXT everywhere else; the only SQLite-specific part is the auto-increment id syntax.

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_code     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    extension     TEXT    NOT NULL,
    supervisor    INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE agent_queues (
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    queue    TEXT   NOT NULL,
    PRIMARY KEY (agent_id, queue)
);

CREATE TABLE sessions (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    address    TEXT   NOT NULL
);
CREATE INDEX sessions_agent ON sessions(agent_id);

CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_code TEXT   NOT NULL,
    address   TEXT   NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures(user_code, at);
CREATE INDEX login_failures_address ON login_failures(address, at);

CREATE TABLE pause_reasons (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    budget_seconds BIGINT,
    is_exit        INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL
);

CREATE TABLE agent_state_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id  BIGINT NOT NULL REFERENCES agents(id),
    state     TEXT   NOT NULL,
    reason_id BIGINT REFERENCES pause_reasons(id),
    at        BIGINT NOT NULL
);
CREATE INDEX agent_state_log_agent ON agent_state_log(agent_id, id);

CREATE TABLE calls (
    call_id          TEXT    NOT NULL,
    agent_id         BIGINT  NOT NULL REFERENCES agents(id),
    direction        TEXT    NOT NULL,
    other_number     TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    ringing_at       BIGINT  NOT NULL,
    answered_at      BIGINT,
    ended_at         BIGINT,
    duration_seconds BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, agent_id)
);
CREATE INDEX calls_agent ON calls(agent_id, ringing_at);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id   BIGINT,
    event_type TEXT   NOT NULL,
    payload    TEXT   NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX events_at ON events(at);

-- Small facts about the log itself, e.g. the highest event id removed by retention.
CREATE TABLE hub_meta (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);
