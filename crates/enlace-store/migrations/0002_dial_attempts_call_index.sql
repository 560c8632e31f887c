-- 0002: find the dial attempts of a call, and let `ON DELETE SET NULL` on calls use an index
-- instead of scanning every dial attempt.
CREATE INDEX dial_attempts_call ON dial_attempts (call_id) WHERE call_id IS NOT NULL;
