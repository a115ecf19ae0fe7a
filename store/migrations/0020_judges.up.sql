-- The online judge worker's progress: one watermark on spans.ingested_at per (worker shard, level).
CREATE TABLE IF NOT EXISTS judge_watermarks
(
    worker String,
    level LowCardinality(String),
    watermark DateTime64(6, 'UTC'),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (worker, level);

-- The worker reads new spans by ingestion time, which the sort key does not cover: a min-max index
-- lets it skip every part that holds only older spans.
ALTER TABLE spans ADD INDEX IF NOT EXISTS idx_ingested ingested_at TYPE minmax GRANULARITY 1;

-- Backfill jobs and their progress; a running job rewrites its row every few seconds (a heartbeat).
CREATE TABLE IF NOT EXISTS judge_jobs
(
    project LowCardinality(String),
    job_id String,
    evaluator String,
    params String,
    status LowCardinality(String),
    total UInt64,
    done UInt64,
    scored UInt64,
    errors UInt64,
    skipped UInt64,
    cost_usd Float64,
    estimated_cost_usd Nullable(Float64),
    message String,
    created_by String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (project, job_id)
