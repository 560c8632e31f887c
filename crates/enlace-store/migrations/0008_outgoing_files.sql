-- 0008: sending files, voice notes and locations (issue 12). A queued message may carry a file
-- staged on this computer (`staged_path`) and, once the hub has it, the hub's media id
-- (`hub_media_id`), so a retried or restarted send never uploads the file twice. The agent's
-- own quick addresses (the organization's come from the hub), and the last position sent.
-- Never edit a released migration: add the next numbered file instead.
ALTER TABLE chat_sends ADD COLUMN staged_path TEXT;
ALTER TABLE chat_sends ADD COLUMN hub_media_id TEXT;

CREATE TABLE own_quick_addresses (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (length(trim(name)) > 0),
    address    TEXT    NOT NULL CHECK (length(trim(address)) > 0),
    latitude   REAL    CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
    longitude  REAL    CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180),
    created_at INTEGER NOT NULL,
    CHECK ((latitude IS NULL) = (longitude IS NULL))
) STRICT;

-- One row at most: the last location the agent sent.
CREATE TABLE last_position (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    latitude  REAL    NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude REAL    NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    at        INTEGER NOT NULL
) STRICT;
