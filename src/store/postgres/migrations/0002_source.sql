-- BenchBoard schema 2: where an imported report came from (a load tool's output,
-- POST /api/import/{format}); NULL for a report sent as it is. Kept as sent, like
-- the stats, and written back before `stats` by an export to a directory.
ALTER TABLE reports ADD COLUMN source json;
