-- Outbox values over ~2 kB (a cycle close's orders and members' notices, ~40 MB for 100k
-- requests) were compressed on the way in and decompressed by the relay a moment later: the
-- rows live for seconds. Stored as they are, the close's outbox COPY takes half the time.
ALTER TABLE outbox ALTER COLUMN value SET STORAGE EXTERNAL;
