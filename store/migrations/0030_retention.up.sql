-- Per-project retention; store/retention.py turns these rows into TTL expressions on every table that
-- holds trace data. retention_source: '' follows the global default, 'config' comes from loupe.yaml,
-- 'api' from `loupe projects set-retention`. content_days 0 means "the same as retention_days".
ALTER TABLE projects ADD COLUMN IF NOT EXISTS content_days UInt32 DEFAULT 0;

ALTER TABLE projects ADD COLUMN IF NOT EXISTS retention_source LowCardinality(String) DEFAULT '';

-- The TTL statement last applied to each table: a restart with the same policy changes nothing.
CREATE TABLE IF NOT EXISTS retention_policy
(
    table_name String,
    policy String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY table_name
