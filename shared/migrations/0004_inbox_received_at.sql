-- Inbox rows past their retention are forgotten (shared/messaging/inbox.py); this finds them
-- without reading the whole inbox. Inserts append at its right edge, received_at only grows.
CREATE INDEX IF NOT EXISTS inbox_received_at ON inbox (received_at);
