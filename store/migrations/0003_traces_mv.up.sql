-- Root spans rank first (0) in argMin, so root facts win whenever the root has arrived.
-- The inner select renames columns so the outer aliases never shadow their own inputs.
CREATE MATERIALIZED VIEW IF NOT EXISTS traces_mv TO traces AS
SELECT
    project,
    day,
    trace_id,
    min(s_start) AS start_time,
    max(s_end) AS end_time,
    max(s_ingested) AS last_ingested_at,
    count() AS span_count,
    countIf(s_status = 'error') AS error_count,
    countIf(s_kind = 'llm') AS llm_count,
    sum(toUInt64(s_in)) AS input_tokens,
    sum(toUInt64(s_out)) AS output_tokens,
    sum(toUInt64(s_total)) AS total_tokens,
    sum(s_cost) AS cost_usd,
    countIf(s_cost_source = 'unknown') AS unpriced_count,
    argMinState(s_name, s_not_root) AS root_name,
    argMinState(s_span_id, s_not_root) AS root_span_id,
    argMinState(s_input, toUInt8(s_not_root OR s_input = '')) AS root_input,
    argMinState(s_output, toUInt8(s_not_root OR s_output = '')) AS root_output,
    argMinState(s_service, s_not_root) AS service_name,
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
        project, toDate(start_time) AS day, trace_id,
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
GROUP BY project, day, trace_id
