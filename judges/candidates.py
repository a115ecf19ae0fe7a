"""Candidates from the store's candidate rows (store/judging.py), with the facts sampling rules filter on.

A span's trace-level facts (environment, tags, session) may sit on another span of its trace, so they
are completed from the traces rollup; at trace and session level `kind` means "has a span of that
kind", which the rollup does not keep, so it is read from the spans only when a rule asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from judges.sampling import Candidate, facts
from judges.targets import MAX_SESSION_TRACES
from store.client import Store
from store.judging import kinds_by_trace, trace_facts, utc


def _by_project(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["project"], []).append(r[key])
    return out


def span_candidates(store: Store, rows: list[dict[str, Any]]) -> list[Candidate]:
    trace_info: dict[tuple[str, str], dict[str, Any]] = {}
    for project, ids in _by_project(rows, "trace_id").items():
        for tid, info in trace_facts(store, project, sorted(set(ids))).items():
            trace_info[(project, tid)] = info
    out = []
    for r in rows:
        t = trace_info.get((r["project"], r["trace_id"]), {})
        out.append(Candidate(
            level="span", project=r["project"], target_id=r["span_id"], trace_id=r["trace_id"],
            last_ingested_at=utc(r["ingested_at"]), kinds=facts([r["span_kind"]]), services=facts([r["svc"]]),
            models=facts([r["req_model"], r["resp_model"]]), prompt_names=facts([r["pn"]]),
            prompt_versions=facts([r["pv"]]), environments=facts([r["env"] or t.get("env")]),
            tags=facts([*r["tg"], *t.get("tg", ())]),
            extra={"chars": r.get("chars", 0), "session_id": r["sess"] or t.get("sess", "")}))
    return out


def _kinds(store: Store, rows: list[dict[str, Any]], wanted: bool, ids_of: Any) -> dict[tuple[str, str], set[str]]:
    """(project, trace_id) → span kinds, read only when a rule filters trace-level targets by kind."""
    if not wanted:
        return {}
    out: dict[tuple[str, str], set[str]] = {}
    per_project: dict[str, set[str]] = {}
    for r in rows:
        per_project.setdefault(r["project"], set()).update(ids_of(r))
    for project, ids in per_project.items():
        listed = sorted(ids)
        for i in range(0, len(listed), 500):
            for tid, kinds in kinds_by_trace(store, project, listed[i:i + 500]).items():
                out[(project, tid)] = set(kinds)
    return out


def trace_candidates(store: Store, rows: list[dict[str, Any]], need_kinds: bool) -> list[Candidate]:
    kinds = _kinds(store, rows, need_kinds, lambda r: [r["tid"]])
    return [Candidate(
        level="trace", project=r["project"], target_id=r["tid"], trace_id=r["tid"],
        last_ingested_at=utc(r["last_at"]),
        kinds=frozenset(kinds.get((r["project"], r["tid"]), {"llm"} if r["llm"] else set())),
        services=facts([r["svc"]]), models=facts(r["mdl"]), prompt_names=facts([r["pn"]]),
        prompt_versions=facts([r["pv"]]), environments=facts([r["env"]]), tags=facts(r["tg"]),
        extra={"session_id": r["sess"], "chars": 0}) for r in rows]


def session_candidates(store: Store, rows: list[dict[str, Any]], need_kinds: bool) -> list[Candidate]:
    kinds = _kinds(store, rows, need_kinds, lambda r: r["trace_ids"])
    out = []
    for r in rows:
        found = set().union(*(kinds.get((r["project"], t), set()) for t in r["trace_ids"])) if kinds else (
            {"llm"} if r["llm"] else set())
        out.append(Candidate(
            level="session", project=r["project"], target_id=r["sess"], trace_id=r["latest_trace"],
            last_ingested_at=utc(r["last_at"]), kinds=frozenset(found), services=facts(r["svcs"]),
            models=facts(r["mdl"]), prompt_names=facts(r["pns"]), prompt_versions=facts(r["pvs"]),
            environments=facts(r["envs"]), tags=facts(r["tg"]),
            extra={"trace_ids": tuple(r["trace_ids"][-MAX_SESSION_TRACES:]), "chars": 0}))
    return out
