-- Scores carry their trace's start and trace-level facts, stamped when the score is written (store/scores.py),
-- so score views bucket by trace time and group by segment without joining the trace list. The epoch
-- means the trace (its root) had not arrived when the score was written: those rows are joined to
-- `trace_list` at read time (analytics/scoresql.py), as every row written before this migration is.
ALTER TABLE scores ADD COLUMN IF NOT EXISTS trace_start DateTime64(6, 'UTC') DEFAULT toDateTime64(0, 6, 'UTC');
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_service LowCardinality(String);
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_environment LowCardinality(String);
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_user String;
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_prompt_name LowCardinality(String);
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_prompt_version LowCardinality(String);
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_release LowCardinality(String);
ALTER TABLE scores ADD COLUMN IF NOT EXISTS t_models Array(LowCardinality(String))
