-- Drift: a pinned reference window per (project, segment); deleted = 1 un-pins it.
CREATE TABLE IF NOT EXISTS drift_baselines
(
    project LowCardinality(String),
    segment String,
    ref_start DateTime64(6, 'UTC'),
    ref_end DateTime64(6, 'UTC'),
    note String,
    created_by String,
    deleted UInt8,
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (project, segment);

-- Drift results, kept for the trend of the drift score; recomputing a window replaces its row.
CREATE TABLE IF NOT EXISTS drift_runs
(
    project LowCardinality(String),
    segment String,
    reference LowCardinality(String),
    config String,
    window_start DateTime64(6, 'UTC'),
    window_end DateTime64(6, 'UTC'),
    score Float64,
    drifted UInt8,
    input_auc Nullable(Float64),
    output_auc Nullable(Float64),
    max_psi Nullable(Float64),
    top_feature String,
    spans UInt64,
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (project, segment, reference, config, window_end, window_start)
TTL toDateTime(window_end) + toIntervalDay(400);

-- Alert notices (firing, resolved, test). event_id is derived from (project, rule, transition, window),
-- so a scheduler that restarts and evaluates the same window finds its own row and never sends twice.
CREATE TABLE IF NOT EXISTS alert_events
(
    project LowCardinality(String),
    event_id String,
    rule String,
    kind LowCardinality(String),
    status LowCardinality(String),
    severity LowCardinality(String),
    window_start DateTime64(6, 'UTC'),
    window_end DateTime64(6, 'UTC'),
    value Nullable(Float64),
    threshold Nullable(Float64),
    title String,
    message String CODEC(ZSTD(3)),
    link String,
    channels Array(String),
    delivery String,
    attempts UInt32,
    created_at DateTime64(6, 'UTC'),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (project, event_id)
TTL toDateTime(created_at) + toIntervalDay(400);

-- Silences: a rule keeps being evaluated (and its history kept) but sends nothing until `until`.
CREATE TABLE IF NOT EXISTS alert_silences
(
    project LowCardinality(String),
    silence_id String,
    rule String,
    starts_at DateTime64(6, 'UTC'),
    until DateTime64(6, 'UTC'),
    reason String,
    created_by String,
    deleted UInt8,
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (project, silence_id)
