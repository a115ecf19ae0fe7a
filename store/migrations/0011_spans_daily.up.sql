-- Daily twin of spans_hourly for day and week buckets: a 30-day chart merges ~30 rows per group instead
-- of ~720 (the t-digest merges dominate the cost of a series). Filled from spans like the hourly one.
CREATE TABLE IF NOT EXISTS spans_daily
(
    project LowCardinality(String),
    day DateTime('UTC'),
    service_name LowCardinality(String),
    environment LowCardinality(String),
    kind LowCardinality(String),
    is_root UInt8,
    provider LowCardinality(String),
    model LowCardinality(String),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    unpriced SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cached_input_tokens SimpleAggregateFunction(sum, UInt64),
    total_tokens SimpleAggregateFunction(sum, UInt64),
    duration_sum SimpleAggregateFunction(sum, Float64),
    ttft_count SimpleAggregateFunction(sum, UInt64),
    last_seen SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    duration_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    ttft_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project, day, service_name, environment, kind, is_root, provider, model, prompt_name, prompt_version)
TTL day + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS spans_daily_mv TO spans_daily AS
SELECT
    project,
    toStartOfDay(start_time) AS day,
    service_name,
    environment,
    kind,
    toUInt8(parent_span_id = '') AS is_root,
    provider,
    if(response_model != '', response_model, request_model) AS model,
    prompt_name,
    prompt_version,
    count() AS spans,
    countIf(status = 'error') AS errors,
    sum(cost_usd) AS cost_usd,
    countIf(cost_source = 'unknown') AS unpriced,
    sum(toUInt64(input_tokens)) AS input_tokens,
    sum(toUInt64(output_tokens)) AS output_tokens,
    sum(toUInt64(cached_input_tokens)) AS cached_input_tokens,
    sum(toUInt64(total_tokens)) AS total_tokens,
    sum(duration_ms) AS duration_sum,
    count(ttft_ms) AS ttft_count,
    max(start_time) AS last_seen,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS duration_q,
    quantilesTDigestState(0.5, 0.95, 0.99)(ttft_ms) AS ttft_q
FROM spans
GROUP BY project, day, service_name, environment, kind, is_root, provider, model, prompt_name, prompt_version;

-- Existing data, from the hourly rollup (cheaper than rescanning spans; same numbers).
INSERT INTO spans_daily
SELECT
    project, toStartOfDay(hour) AS day, service_name, environment, kind, is_root, provider, model, prompt_name,
    prompt_version, sum(spans), sum(errors), sum(cost_usd), sum(unpriced), sum(input_tokens), sum(output_tokens),
    sum(cached_input_tokens), sum(total_tokens), sum(duration_sum), sum(ttft_count), max(last_seen),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(duration_q), quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_q)
FROM spans_hourly
GROUP BY project, day, service_name, environment, kind, is_root, provider, model, prompt_name, prompt_version
