-- 0004: the record a refused creation matched. When the CRM's duplicate rules refuse a new
-- Contact or Lead and name the record it duplicates, the outbox keeps that record's kind and id
-- with the error, so the agent can attach the call to it in one click (its CRM is the entry's).
-- Never edit a released migration: add the next numbered file instead.

ALTER TABLE outbox ADD COLUMN last_error_record_kind TEXT
    CHECK (last_error_record_kind IS NULL OR last_error_record_kind IN ('contact', 'lead'));
ALTER TABLE outbox ADD COLUMN last_error_record_id TEXT;
