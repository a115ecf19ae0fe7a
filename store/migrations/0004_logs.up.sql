-- OTLP log records: GenAI content events (gen_ai.*) are joined to their span at read time.
CREATE TABLE IF NOT EXISTS logs
(
    project LowCardinality(String),
    trace_id String,
    span_id String,
    time DateTime64(6, 'UTC'),
    ingested_at DateTime64(3, 'UTC'),
    event_name LowCardinality(String),
    severity LowCardinality(String),
    service_name LowCardinality(String),
    body String CODEC(ZSTD(3)),
    attributes Map(String, String) CODEC(ZSTD(3)),
    redactions Map(LowCardinality(String), UInt32),
    INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (project, trace_id, span_id, time)
TTL toDateTime(time) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 10000
