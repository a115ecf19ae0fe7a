-- Hourly rollup of spans for the dashboard's time series, cost and latency pages: a 30-day chart reads
-- ~1e5 pre-aggregated rows instead of ~1e7 spans. No user or session dimension: those are trace-level
-- facts (resolved in `traces`), and keeping them out keeps this table small and free of personal data.
-- `is_root` separates requests (root spans) from their inner calls, so request latency is a dimension.
CREATE TABLE IF NOT EXISTS spans_hourly
(
    project LowCardinality(String),
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (project, hour, service_name, environment, kind, is_root, provider, model, prompt_name, prompt_version)
TTL hour + toIntervalDay({retention_days})
-- A replayed spans insert carries the same token and is dropped here as well.
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS spans_hourly_mv TO spans_hourly AS
SELECT
    project,
    toStartOfHour(start_time) AS hour,
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
GROUP BY project, hour, service_name, environment, kind, is_root, provider, model, prompt_name, prompt_version;

-- Spans stored before this migration: migrations run before the writer starts, so nothing is counted twice.
INSERT INTO spans_hourly
SELECT
    project, toStartOfHour(start_time) AS hour, service_name, environment, kind,
    toUInt8(parent_span_id = '') AS is_root, provider,
    if(response_model != '', response_model, request_model) AS model, prompt_name, prompt_version,
    count(), countIf(status = 'error'), sum(cost_usd), countIf(cost_source = 'unknown'),
    sum(toUInt64(input_tokens)), sum(toUInt64(output_tokens)), sum(toUInt64(cached_input_tokens)),
    sum(toUInt64(total_tokens)), sum(duration_ms), count(ttft_ms), max(start_time),
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms), quantilesTDigestState(0.5, 0.95, 0.99)(ttft_ms)
FROM spans
GROUP BY project, hour, service_name, environment, kind, is_root, provider, model, prompt_name, prompt_version
