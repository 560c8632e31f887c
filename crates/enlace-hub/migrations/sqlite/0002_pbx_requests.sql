-- Version 2: PBX commands relayed between hub instances (used with PostgreSQL only; kept here
-- so both backends have the same schema at every version).

CREATE TABLE pbx_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    command    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    claimed    INTEGER NOT NULL DEFAULT 0,
    reply      TEXT,
    done_at    BIGINT
);
CREATE INDEX pbx_requests_open ON pbx_requests(claimed, id);
