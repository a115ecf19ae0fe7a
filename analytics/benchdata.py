"""Traffic fabricated inside ClickHouse, for benchmarks only (bench/analytics.py): millions of spans in
seconds with INSERT … SELECT FROM numbers(), where typed rows from Python would take half an hour.

Each trace is a request root (chain) and one LLM call under it, so spans = 2 × traces; the materialized
views (traces rollup, hourly rollup) fire as in production. Inputs are ten words from a support
vocabulary; with `shifted` a fifth of them come from a new topic ("plus membership"), outputs grow and a
share of questions is in Spanish. Prompt version `v2` is worse on groundedness. Deterministic: every
value is a hash of the row number and `seed`.
"""

from __future__ import annotations

from datetime import datetime

from store.client import Store

_BASE = ("invoice refund charge card payment billed twice receipt delivery package tracking courier shipped "
         "late address password login reset email locked verification profile how do i can you please my "
         "the why what when help with order account").split()
_NEW = "plus membership perks annual subscription benefits tier renewal".split()
_ES = "cómo puedo mi la el por qué no está pedido".split()


def _arr(words: list[str]) -> str:
    return "[" + ", ".join(f"'{w}'" for w in words) + "]"


def fabricate_traffic(store: Store, project: str, start: datetime, end: datetime, traces: int, version: str,
                      shifted: bool, seed: int) -> None:
    """Insert 2 × `traces` spans spread evenly over [start, end)."""
    span_us = int((end - start).total_seconds() * 1e6)
    shift = 1 if shifted else 0
    params = {"project": project, "start": start, "n": traces, "step": max(1, span_us // traces),
              "version": version, "seed": seed, "shift": shift}
    words = (f"if({{shift:UInt8}} = 1 AND h % 5 = 0, {_arr(_NEW)}[1 + cityHash64(n, i, {{seed:UInt32}}, 'w') % "
             f"{len(_NEW)}], if({{shift:UInt8}} = 1 AND h % 10 = 1, {_arr(_ES)}[1 + cityHash64(n, i, 'e') % "
             f"{len(_ES)}], {_arr(_BASE)}[1 + cityHash64(n, i, {{seed:UInt32}}) % {len(_BASE)}]))")
    question = f"arrayStringConcat(arrayMap(i -> {words}, range(10)), ' ')"
    base = (
        "SELECT number AS n, cityHash64(n, {seed:UInt32}) AS h, "
        "lower(concat(leftPad(hex(cityHash64(n, {seed:UInt32}, 'a')), 16, '0'), "
        "leftPad(hex(cityHash64(n, {seed:UInt32}, 'b')), 16, '0'))) AS tid, "
        "lower(leftPad(hex(cityHash64(n, {seed:UInt32}, 'r')), 16, '0')) AS root, "
        "lower(leftPad(hex(cityHash64(n, {seed:UInt32}, 'l')), 16, '0')) AS llm, "
        "{start:DateTime64(6)} + toIntervalMicrosecond(n * {step:UInt64} + h % {step:UInt64}) AS t0, "
        "200 + h % 700 AS in_tok, toUInt32((80 + h % 120) * (1 + 0.4 * {shift:UInt8})) AS out_tok, "
        "300 + (h % 1000) * (1 + (h % 7 = 0)) AS llm_ms, if(h % 10 < 8, 'gpt-4o-mini', 'gpt-4o') AS model, "
        f"{question} AS q FROM numbers({{n:UInt64}})")
    columns = ("project, trace_id, span_id, parent_span_id, name, kind, operation, status, start_time, end_time, "
               "duration_ms, ingested_at, service_name, environment, provider, request_model, response_model, "
               "finish_reasons, input_tokens, output_tokens, total_tokens, cost_usd, cost_source, prompt_name, "
               "prompt_version, input, output")
    store.command(
        f"INSERT INTO spans ({columns}) SELECT {{project:String}}, tid, sid, parent, name, kind, op, status, "
        "start, start + toIntervalMillisecond(toUInt64(dur)), dur, start, 'support-bot', 'prod', 'openai', m, m, "
        "reasons, it, ot, it + ot, cost, src, pn, pv, input, output FROM ("
        f"SELECT tid, arrayJoin([(root, '', 'answer_question', 'chain', '', t0, llm_ms + 40, '', [], 0, 0, 0., '', "
        "'', '', q, concat('Answer: ', q)), (llm, root, concat('chat ', model), 'llm', 'chat', "
        "t0 + toIntervalMillisecond(20), llm_ms, model, ['stop'], in_tok, out_tok, "
        "(in_tok * 0.15 + out_tok * 0.6) / 1e6 * if(model = 'gpt-4o', 16, 1), 'price-table', 'support_answer', "
        "{version:String}, concat('[{\"role\":\"system\",\"content\":\"You answer support questions.\"},"
        "{\"role\":\"user\",\"content\":\"', q, '\"}]'), concat('[{\"role\":\"assistant\",\"content\":\"About ', "
        "q, ': see the help centre.\"}]'))]) AS s, s.1 AS sid, s.2 AS parent, s.3 AS name, s.4 AS kind, "
        "s.5 AS op, s.6 AS start, s.7 AS dur, s.8 AS m, s.9 AS reasons, s.10 AS it, s.11 AS ot, s.12 AS cost, "
        "s.13 AS src, s.14 AS pn, s.15 AS pv, s.16 AS input, s.17 AS output, "
        f"if(h % 50 = 0, 'error', 'ok') AS status FROM ({base}))", params,
        settings={"max_insert_block_size": 2_000_000, "min_insert_block_size_rows": 2_000_000})


def fabricate_scores(store: Store, project: str, start: datetime, end: datetime, sample_pct: int) -> None:
    """Judge verdicts on `sample_pct` % of the window's LLM calls: groundedness (v2 worse) and pii_output."""
    params = {"project": project, "start": start, "end": end, "pct": sample_pct}
    store.command(
        "INSERT INTO scores (project, target_type, target_id, trace_id, name, source, evaluator, evaluator_version, "
        "value, label, rationale, created_at, updated_at) SELECT project, 'span', span_id, trace_id, v.1, v.2, v.1, "
        "'1', v.3, if(v.3 >= 0.5, 'high', 'low'), 'bench', start_time, start_time FROM ("
        "SELECT project, span_id, trace_id, start_time, cityHash64(span_id, 'score') % 100 AS r, "
        "arrayJoin([('groundedness', 'llm_judge', multiIf(r < if(prompt_version = 'v2', 30, 10), 0., "
        "r < if(prompt_version = 'v2', 50, 30), 0.5, 1.)), ('pii_output', 'rubric', toFloat64(r % 50 = 0))]) AS v "
        "FROM spans "
        "WHERE project = {project:String} AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)} "
        "AND kind = 'llm' AND cityHash64(span_id, 'sample') % 100 < {pct:UInt8})", params)
