-- One row per span. OTel spans are immutable: plain MergeTree, no FINAL on reads.
-- Replays of a WAL batch are dropped by insert_deduplication_token (non_replicated_deduplication_window).
CREATE TABLE IF NOT EXISTS spans
(
    project LowCardinality(String),
    trace_id String,
    span_id String,
    parent_span_id String,
    name String,
    kind LowCardinality(String),
    operation LowCardinality(String),
    otel_kind LowCardinality(String),
    status LowCardinality(String),
    status_message String CODEC(ZSTD(3)),
    start_time DateTime64(6, 'UTC'),
    end_time DateTime64(6, 'UTC'),
    duration_ms Float64,
    ingested_at DateTime64(3, 'UTC'),
    service_name LowCardinality(String),
    service_version LowCardinality(String),
    environment LowCardinality(String),
    release LowCardinality(String),
    session_id String,
    user_id String,
    tags Array(LowCardinality(String)),
    metadata Map(String, String),
    convention LowCardinality(String),
    scope_name LowCardinality(String),
    provider LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    model_parameters String CODEC(ZSTD(3)),
    stream UInt8,
    finish_reasons Array(LowCardinality(String)),
    input_tokens UInt32,
    output_tokens UInt32,
    cached_input_tokens UInt32,
    reasoning_tokens UInt32,
    total_tokens UInt32,
    cost_usd Float64,
    cost_source LowCardinality(String),
    ttft_ms Nullable(Float64),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    prompt_template String CODEC(ZSTD(3)),
    prompt_variables String CODEC(ZSTD(3)),
    tool_name LowCardinality(String),
    input String CODEC(ZSTD(3)),
    output String CODEC(ZSTD(3)),
    documents String CODEC(ZSTD(3)),
    tool_calls String CODEC(ZSTD(3)),
    redactions Map(LowCardinality(String), UInt32),
    content_limits Map(LowCardinality(String), UInt32),
    attributes Map(String, String) CODEC(ZSTD(3)),
    resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    events String CODEC(ZSTD(3)),
    INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(start_time)
ORDER BY (project, toStartOfHour(start_time), trace_id, span_id)
TTL toDateTime(start_time) + toIntervalDay({retention_days})
-- Granules of ~1 MiB (~900 of the bench's spans) instead of ClickHouse's 10 MiB, and 16 KiB compressed blocks:
-- one trace's spans lie together, and reading them decompresses the granules holding them in every column
-- (9 -> 2 MB, 29 -> 19 ms a trace on a copy of the 10 M-span seed) for 2 % more disk. Settings of a new
-- store only: ClickHouse cannot change a table's granularity.
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 0,
    index_granularity_bytes = 1048576, min_compress_block_size = 16384
