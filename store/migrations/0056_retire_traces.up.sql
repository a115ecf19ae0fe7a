-- `trace_list` (0050) replaces the `traces` rollup: the judges' scheduler and the review queues read it
-- now, so the rollup (a second copy of every root's input and output, ~20 % of the store) and its view
-- (one more aggregation per insert) go. The scheduler finds traces touched since its watermark by
-- last_ingested_at: rows arrive in time order, so a minmax index skips all but the newest granules.
ALTER TABLE trace_list ADD INDEX IF NOT EXISTS idx_ingested last_ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE trace_list MATERIALIZE INDEX idx_ingested;
DROP VIEW IF EXISTS traces_mv;
DROP TABLE IF EXISTS traces
