-- The trace list's own table: the `traces` facts, ordered by time instead of by (day, trace_id), so a
-- newest-first page reads the last minutes of rows, not a whole day of them.
-- One row per trace per insert (the spans of a trace usually arrive together, so usually one row);
-- rows of one trace are merged at read time with GROUP BY trace_id, as for `traces`. Plain values
-- instead of aggregate states: `pick_key` orders a trace's rows (0 = holds the root, else the row's
-- first start in µs), so argMin(x, pick_key) takes root facts from the root's row, or the earliest.
-- Columns whose merged value is a SELECT alias in the read API are named apart (first_start,
-- last_end), so a WHERE on the stored column is never rewritten to the aggregate.
CREATE TABLE IF NOT EXISTS trace_list
(
    project LowCardinality(String),
    trace_id String,
    first_start DateTime64(6, 'UTC'),
    last_end DateTime64(6, 'UTC'),
    last_ingested_at DateTime64(3, 'UTC'),
    pick_key UInt64,
    span_count UInt32,
    error_count UInt32,
    llm_count UInt32,
    input_tokens UInt64,
    output_tokens UInt64,
    total_tokens UInt64,
    cost_usd Float64,
    unpriced_count UInt32,
    name String,
    root_span_id String,
    service_name LowCardinality(String),
    input_preview String CODEC(ZSTD(3)),
    output_preview String CODEC(ZSTD(3)),
    session_id String,
    user_id String,
    environment LowCardinality(String),
    release LowCardinality(String),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    tags Array(LowCardinality(String)),
    models Array(LowCardinality(String)),
    -- Index granules of 1024 and 4096 rows (4 and 16 granules): finer ones cost more to analyse on every
    -- range read than they save.
    INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 4,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 16,
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 16,
    -- A user's or a session's traces are spread over the whole month: these narrow copies sorted by them
    -- find a user's traces in a window without reading every row's user_id (ClickHouse picks them itself).
    -- Their reads are contiguous, so they keep 1024-row granules (with 256, a user's search took 27-35 ms, not 22-26).
    PROJECTION by_user (SELECT project, user_id, first_start, trace_id ORDER BY project, user_id, first_start)
        WITH SETTINGS (index_granularity = 1024, min_compress_block_size = 65536),
    PROJECTION by_session (SELECT project, session_id, first_start, trace_id ORDER BY project, session_id, first_start)
        WITH SETTINGS (index_granularity = 1024, min_compress_block_size = 65536)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(first_start)
ORDER BY (project, first_start, trace_id)
TTL toDateTime(first_start) + toIntervalDay({retention_days})
-- A replayed spans insert carries the same token and is dropped here as well. Small granules and compressed
-- blocks: a page of 50 filtered traces spread over days reads ~50 granules whole, and each read
-- decompresses the blocks holding them, previews included (wide columns). 256 rows and 16 KiB blocks
-- instead of 1024 and 64 KiB halve the bytes a user's page decompresses (90 -> 47 MB at 10 M spans) for
-- 3 % more disk; scans of time ranges read the same bytes.
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 256, min_compress_block_size = 16384;

CREATE MATERIALIZED VIEW IF NOT EXISTS trace_list_mv TO trace_list AS
SELECT
    project,
    trace_id,
    min(s_start) AS first_start,
    max(s_end) AS last_end,
    max(s_ingested) AS last_ingested_at,
    if(countIf(s_not_root = 0) > 0, 0, toUInt64(toUnixTimestamp64Micro(min(s_start)))) AS pick_key,
    count() AS span_count,
    countIf(s_status = 'error') AS error_count,
    countIf(s_kind = 'llm') AS llm_count,
    sum(toUInt64(s_in)) AS input_tokens,
    sum(toUInt64(s_out)) AS output_tokens,
    sum(toUInt64(s_total)) AS total_tokens,
    sum(s_cost) AS cost_usd,
    countIf(s_cost_source = 'unknown') AS unpriced_count,
    argMin(s_name, (s_not_root, s_start)) AS name,
    argMin(s_span_id, (s_not_root, s_start)) AS root_span_id,
    argMin(s_service, (s_not_root, s_start)) AS service_name,
    argMin(substring(s_input, 1, 4000), (toUInt8(s_not_root OR s_input = ''), s_start)) AS input_preview,
    argMin(substring(s_output, 1, 4000), (toUInt8(s_not_root OR s_output = ''), s_start)) AS output_preview,
    max(s_session) AS session_id,
    max(s_user) AS user_id,
    max(s_env) AS environment,
    max(s_release) AS release,
    max(s_prompt_name) AS prompt_name,
    max(s_prompt_version) AS prompt_version,
    groupUniqArrayArray(s_tags) AS tags,
    groupUniqArrayIf(s_model, s_model != '') AS models
FROM
(
    SELECT
        project, trace_id,
        start_time AS s_start, end_time AS s_end, ingested_at AS s_ingested,
        toString(status) AS s_status, toString(kind) AS s_kind,
        input_tokens AS s_in, output_tokens AS s_out, total_tokens AS s_total,
        cost_usd AS s_cost, toString(cost_source) AS s_cost_source,
        name AS s_name, span_id AS s_span_id, toUInt8(parent_span_id != '') AS s_not_root,
        input AS s_input, output AS s_output, toString(service_name) AS s_service,
        session_id AS s_session, user_id AS s_user, toString(environment) AS s_env,
        toString(release) AS s_release, toString(prompt_name) AS s_prompt_name,
        toString(prompt_version) AS s_prompt_version,
        arrayMap(t -> toString(t), tags) AS s_tags,
        toString(if(response_model != '', response_model, request_model)) AS s_model
    FROM spans
)
GROUP BY project, trace_id;

-- Spans stored before this migration, one row per trace and day (migrations run before the writer starts).
INSERT INTO trace_list
SELECT
    project, trace_id, min(s_start), max(s_end), max(s_ingested),
    if(countIf(s_not_root = 0) > 0, 0, toUInt64(toUnixTimestamp64Micro(min(s_start)))),
    count(), countIf(s_status = 'error'), countIf(s_kind = 'llm'),
    sum(toUInt64(s_in)), sum(toUInt64(s_out)), sum(toUInt64(s_total)), sum(s_cost),
    countIf(s_cost_source = 'unknown'),
    argMin(s_name, (s_not_root, s_start)), argMin(s_span_id, (s_not_root, s_start)),
    argMin(s_service, (s_not_root, s_start)),
    argMin(substring(s_input, 1, 4000), (toUInt8(s_not_root OR s_input = ''), s_start)),
    argMin(substring(s_output, 1, 4000), (toUInt8(s_not_root OR s_output = ''), s_start)),
    max(s_session), max(s_user), max(s_env), max(s_release), max(s_prompt_name), max(s_prompt_version),
    groupUniqArrayArray(s_tags), groupUniqArrayIf(s_model, s_model != '')
FROM
(
    SELECT
        project, trace_id, toDate(start_time) AS s_day,
        start_time AS s_start, end_time AS s_end, ingested_at AS s_ingested,
        toString(status) AS s_status, toString(kind) AS s_kind,
        input_tokens AS s_in, output_tokens AS s_out, total_tokens AS s_total,
        cost_usd AS s_cost, toString(cost_source) AS s_cost_source,
        name AS s_name, span_id AS s_span_id, toUInt8(parent_span_id != '') AS s_not_root,
        input AS s_input, output AS s_output, toString(service_name) AS s_service,
        session_id AS s_session, user_id AS s_user, toString(environment) AS s_env,
        toString(release) AS s_release, toString(prompt_name) AS s_prompt_name,
        toString(prompt_version) AS s_prompt_version,
        arrayMap(t -> toString(t), tags) AS s_tags,
        toString(if(response_model != '', response_model, request_model)) AS s_model
    FROM spans
)
GROUP BY project, s_day, trace_id
