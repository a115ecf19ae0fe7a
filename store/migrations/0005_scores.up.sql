-- Re-scoring the same key replaces the row; different sources, evaluators or authors never collide.
CREATE TABLE IF NOT EXISTS scores
(
    project LowCardinality(String),
    target_type LowCardinality(String),
    target_id String,
    trace_id String,
    name LowCardinality(String),
    source LowCardinality(String),
    evaluator LowCardinality(String),
    evaluator_version LowCardinality(String),
    author String,
    value Nullable(Float64),
    label String,
    rationale String CODEC(ZSTD(3)),
    comment String CODEC(ZSTD(3)),
    judge_model LowCardinality(String),
    judge_cost_usd Float64,
    latency_ms Float64,
    error String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(6, 'UTC'),
    INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project, target_type, target_id, name, source, evaluator, evaluator_version, author)
TTL toDateTime(created_at) + toIntervalDay({retention_days})
