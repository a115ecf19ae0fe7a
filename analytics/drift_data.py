"""SQL behind drift: samples of LLM calls per window, score distributions, pinned baselines, stored results.

Data assumptions: the unit of drift is an LLM span (kind `llm`: model and prompt belong to the call);
its input is the canonical JSON list of messages (the last user message is "the input"), its output the
assistant's messages. Trace ids are random (W3C trace context), so "trace_id below a cut" is a uniform
sample of traces, and because `spans` is ordered by (project, hour, trace_id) the cut also skips whole
granules of the content columns on large windows. Inside the cut, the sample is the first N by a hash of
the span id: deterministic, so the same window always gives the same sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics.scoresql import latest_scores
from analytics.segments import Segment
from analytics.window import Window
from store.client import Store

TEXT_CHARS = 2000
_INPUT_TEXT = (
    "if(startsWith(input, '['), JSONExtractString(arrayLast(m -> JSONExtractString(m, 'role') = 'user', "
    "JSONExtractArrayRaw(input)), 'content'), input)")
_OUTPUT_TEXT = (
    "if(startsWith(output, '['), arrayStringConcat(arrayMap(m -> JSONExtractString(m, 'content'), "
    "JSONExtractArrayRaw(output)), '\\n'), output)")
NUMERIC = ("input_tokens", "output_tokens", "duration_ms", "ttft_ms", "cost_usd")
CATEGORICAL = ("model", "finish_reason", "tool_use", "status", "prompt", "service")


def _where(project: str, w: Window, seg: Segment, params: dict[str, Any]) -> str:
    params.update(project=project, w_start=w.start, w_end=w.end)
    return " AND ".join(["project = {project:String}", "start_time >= {w_start:DateTime64(6)}",
                         "start_time < {w_end:DateTime64(6)}", "kind = 'llm'", *seg.span_where(params)])


def count_calls(store: Store, project: str, w: Window, seg: Segment) -> int:
    params: dict[str, Any] = {}
    return int(store.query_rows(f"SELECT count() FROM spans WHERE {_where(project, w, seg, params)}", params)[0][0])


def _cut(total: int, wanted: int) -> str | None:
    """A trace-id upper bound keeping ~1.5x the wanted rows (None: keep all)."""
    if total <= 0 or wanted * 1.5 >= total:
        return None
    return f"{int(16 ** 8 * wanted * 1.5 / total):08x}"


def text_sample(store: Store, project: str, w: Window, seg: Segment, size: int, total: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"n": size, "chars": TEXT_CHARS}
    where = _where(project, w, seg, params)
    cut = _cut(total, size)
    if cut:
        params["cut"] = cut
        where += " AND trace_id < {cut:String}"
    return store.query(
        f"SELECT trace_id, span_id, substring({_INPUT_TEXT}, 1, {{chars:UInt32}}) AS input_text, "
        f"substring({_OUTPUT_TEXT}, 1, {{chars:UInt32}}) AS output_text FROM spans WHERE {where} "
        "ORDER BY cityHash64(span_id) LIMIT {n:UInt32}", params)


def _hash_keep(total: int, wanted: int, params: dict[str, Any]) -> str:
    """A span-id hash filter keeping ~1.2x the wanted rows, so ORDER BY … LIMIT sorts a sample, not the window."""
    if total <= 0 or wanted * 1.2 >= total:
        return ""
    params["keep"] = int(1_000_000 * wanted * 1.2 / total)
    return " AND cityHash64(span_id) % 1000000 < {keep:UInt32}"


def feature_sample(store: Store, project: str, w: Window, seg: Segment, size: int, total: int) -> dict[str, list]:
    """Numeric and categorical facts of up to `size` LLM calls, column-wise."""
    params: dict[str, Any] = {"n": size}
    where = _where(project, w, seg, params) + _hash_keep(total, size, params)
    rows = store.query_rows(
        "SELECT toFloat64(input_tokens), toFloat64(output_tokens), duration_ms, ttft_ms, cost_usd, "
        "toString(if(response_model != '', response_model, request_model)), "
        "if(empty(finish_reasons), '(none)', toString(finish_reasons[1])), "
        "if(length(tool_calls) > 2, 'yes', 'no'), toString(status), "
        "if(prompt_name = '', '(none)', concat(toString(prompt_name), ':', toString(prompt_version))), "
        f"toString(service_name) FROM spans WHERE {where} ORDER BY cityHash64(span_id) LIMIT {{n:UInt32}}", params)
    names = (*NUMERIC, *CATEGORICAL)
    columns: dict[str, list] = {name: [] for name in names}
    for row in rows:
        for name, value in zip(names, row, strict=True):
            columns[name].append(value)
    return columns


def score_counts(store: Store, project: str, w: Window, seg: Segment, size: int,
                 total: int) -> dict[str, dict[str, float]]:
    """Per score name: counts of its values (rounded to 0.1) over the traces of a sample of the window's
    LLM calls (the same hash sample as the features, so the cost does not grow with the window)."""
    params: dict[str, Any] = {"day_from": w.start.date()}
    spans_where = _where(project, w, seg, params) + _hash_keep(total, size, params)
    sampled = ("project = {project:String} AND created_at >= {day_from:Date} AND cityHash64(trace_id) IN "
               f"(SELECT cityHash64(trace_id) FROM spans WHERE {spans_where})")
    latest = latest_scores(sampled, columns=("name", "value"))
    rows = store.query_rows(f"SELECT name, toString(round(value, 1)) AS v, count() FROM ({latest}) GROUP BY name, v",
                            params)
    out: dict[str, dict[str, float]] = {}
    for name, value, n in rows:
        out.setdefault(str(name), {})[value] = float(n)
    return out


# --- pinned baselines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    segment: str
    window: Window
    note: str
    created_by: str
    updated_at: datetime


def get_baseline(store: Store, project: str, seg: Segment) -> Baseline | None:
    rows = store.query(
        "SELECT segment, ref_start, ref_end, note, created_by, deleted, updated_at FROM drift_baselines "
        "WHERE project = {p:String} AND segment = {s:String} ORDER BY updated_at DESC LIMIT 1",
        {"p": project, "s": seg.key})
    if not rows or rows[0]["deleted"]:
        return None
    r = rows[0]
    return Baseline(r["segment"], Window(_utc(r["ref_start"]), _utc(r["ref_end"])), r["note"], r["created_by"],
                    r["updated_at"])


def set_baseline(store: Store, project: str, seg: Segment, w: Window, note: str, author: str,
                 deleted: bool = False) -> None:
    store.insert("drift_baselines", [(project, seg.key, w.start, w.end, note, author, int(deleted),
                                      datetime.now(UTC))],
                 ("project", "segment", "ref_start", "ref_end", "note", "created_by", "deleted", "updated_at"))


def list_baselines(store: Store, project: str) -> list[dict[str, Any]]:
    return [r for r in store.query(
        "SELECT segment, ref_start, ref_end, note, created_by, deleted, updated_at FROM drift_baselines "
        "WHERE project = {p:String} ORDER BY updated_at DESC LIMIT 1 BY segment", {"p": project})
        if not r.pop("deleted")]


# --- stored results (the trend) ----------------------------------------------------------------------------

RUN_COLUMNS = ("project", "segment", "reference", "config", "window_start", "window_end", "score", "drifted",
               "input_auc", "output_auc", "max_psi", "top_feature", "spans", "computed_at")


def save_run(store: Store, project: str, seg: Segment, reference: str, config: str, result: dict[str, Any]) -> None:
    top = next((c["name"] for c in result["components"] if c.get("drifted")), "")
    store.insert("drift_runs", [(
        project, seg.key, reference, config, result["current"]["start"], result["current"]["end"],
        float(result["score"]), int(result["drifted"]), result.get("input_auc"), result.get("output_auc"),
        result.get("max_psi"), top, int(result["current"]["calls"]), datetime.now(UTC))], RUN_COLUMNS)


def get_runs(store: Store, project: str, seg: Segment, reference: str, config: str,
             ends: list[datetime]) -> dict[datetime, dict[str, Any]]:
    if not ends:
        return {}
    rows = store.query(
        f"SELECT {', '.join(RUN_COLUMNS[4:])} FROM drift_runs WHERE project = {{p:String}} AND segment = {{s:String}} "
        "AND reference = {r:String} AND config = {c:String} AND window_end IN {ends:Array(DateTime64(6))} "
        "ORDER BY computed_at DESC LIMIT 1 BY window_end, window_start",
        {"p": project, "s": seg.key, "r": reference, "c": config, "ends": ends})
    return {_utc(r["window_end"]): r for r in rows}


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
