-- 0007: when the facts of a cached conversation were true (the stream event's time, or when the
-- hub's list was read), so an older event replayed by a new stream does not undo newer facts.
-- Never edit a released migration: add the next numbered file instead.
ALTER TABLE chat_conversations ADD COLUMN facts_at INTEGER NOT NULL DEFAULT 0;
