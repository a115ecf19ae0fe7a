-- Trace-level facts resolved per trace from whichever span carries them, in any arrival order.
-- Rows for one trace are merged at read time (GROUP BY trace_id with the -Merge combinators).
CREATE TABLE IF NOT EXISTS traces
(
    project LowCardinality(String),
    day Date,
    trace_id String,
    start_time SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    end_time SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    last_ingested_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    span_count SimpleAggregateFunction(sum, UInt64),
    error_count SimpleAggregateFunction(sum, UInt64),
    llm_count SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    total_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    unpriced_count SimpleAggregateFunction(sum, UInt64),
    root_name AggregateFunction(argMin, String, UInt8),
    root_span_id AggregateFunction(argMin, String, UInt8),
    root_input AggregateFunction(argMin, String, UInt8),
    root_output AggregateFunction(argMin, String, UInt8),
    service_name AggregateFunction(argMin, String, UInt8),
    session_id SimpleAggregateFunction(max, String),
    user_id SimpleAggregateFunction(max, String),
    environment SimpleAggregateFunction(max, String),
    release SimpleAggregateFunction(max, String),
    prompt_name SimpleAggregateFunction(max, String),
    prompt_version SimpleAggregateFunction(max, String),
    tags SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    models SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project, day, trace_id)
TTL day + toIntervalDay({retention_days})
-- Its own window: a replayed spans insert is dropped here too (the view's block inherits the token).
SETTINGS non_replicated_deduplication_window = 10000
