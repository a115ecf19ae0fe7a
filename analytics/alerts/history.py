"""Alert notices and silences in the store (tables from migration 0040).

Both tables are ReplacingMergeTree: an event is rewritten as its delivery progresses (pending → sent or
failed), a silence when it is lifted; reads take the newest row per key with LIMIT 1 BY, never FINAL.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from store.client import Store

EVENT_COLUMNS = ("project", "event_id", "rule", "kind", "status", "severity", "window_start", "window_end", "value",
                 "threshold", "title", "message", "link", "channels", "delivery", "attempts", "created_at",
                 "updated_at")
_SILENCE_COLUMNS = ("project", "silence_id", "rule", "starts_at", "until", "reason", "created_by", "deleted",
                    "updated_at")


def event_id(project: str, rule: str, kind: str, window_end: datetime) -> str:
    """Deterministic per (project, rule, transition, evaluated window): a restarted scheduler finds it."""
    raw = f"{project}|{rule}|{kind}|{window_end.astimezone(UTC).isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass
class AlertEvent:
    project: str
    event_id: str
    rule: str
    kind: str  # firing | resolved | test | report
    status: str  # the rule's state the event announces: firing | ok
    severity: str
    window_start: datetime
    window_end: datetime
    value: float | None
    threshold: float | None
    title: str
    message: str
    link: str
    channels: list[str] = field(default_factory=list)
    delivery: str = "pending"  # pending | sent | failed: … | silenced | cooldown | skipped | dry-run
    attempts: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    details: dict[str, Any] = field(default_factory=dict)  # sent with the notice, not stored

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in EVENT_COLUMNS)


def save_event(store: Store, event: AlertEvent) -> None:
    event.updated_at = datetime.now(UTC)
    store.insert("alert_events", [event.row()], EVENT_COLUMNS)


def get_event(store: Store, project: str, ident: str) -> dict[str, Any] | None:
    rows = store.query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM alert_events WHERE project = {{p:String}} "
                       "AND event_id = {e:String} ORDER BY updated_at DESC LIMIT 1", {"p": project, "e": ident})
    return rows[0] if rows else None


def list_events(store: Store, project: str, rule: str | None = None, kinds: list[str] | None = None,
                limit: int = 100, since: datetime | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"p": project, "limit": limit}
    where = ["project = {p:String}"]
    if rule:
        params["rule"] = rule
        where.append("rule = {rule:String}")
    if kinds:
        params["kinds"] = kinds
        where.append("kind IN {kinds:Array(String)}")
    if since:
        params["since"] = since
        where.append("created_at >= {since:DateTime64(6)}")
    return store.query(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM (SELECT * FROM alert_events WHERE {' AND '.join(where)} "
        "ORDER BY updated_at DESC LIMIT 1 BY event_id) ORDER BY created_at DESC, event_id LIMIT {limit:UInt32}", params)


def rule_states(store: Store, project: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The last firing/resolved event per (project, rule): the rule's current state."""
    params: dict[str, Any] = {}
    where = "kind IN ('firing', 'resolved')"
    if project:
        params["p"] = project
        where += " AND project = {p:String}"
    rows = store.query(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM (SELECT * FROM alert_events WHERE {where} "
        "ORDER BY updated_at DESC LIMIT 1 BY project, event_id) ORDER BY created_at DESC LIMIT 1 BY project, rule",
        params)
    return {(r["project"], r["rule"]): r for r in rows}


# --- silences -----------------------------------------------------------------------------------------------


def add_silence(store: Store, project: str, rule: str, until: datetime, reason: str, author: str,
                starts_at: datetime | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    row = {"project": project, "silence_id": uuid.uuid4().hex[:16], "rule": rule, "starts_at": starts_at or now,
           "until": until, "reason": reason, "created_by": author, "deleted": 0, "updated_at": now}
    store.insert("alert_silences", [tuple(row[c] for c in _SILENCE_COLUMNS)], _SILENCE_COLUMNS)
    return row


def lift_silence(store: Store, project: str, silence_id: str) -> bool:
    rows = [r for r in list_silences(store, project, active_only=False) if r["silence_id"] == silence_id]
    if not rows:
        return False
    row = {**rows[0], "deleted": 1, "updated_at": datetime.now(UTC)}
    store.insert("alert_silences", [tuple(row[c] for c in _SILENCE_COLUMNS)], _SILENCE_COLUMNS)
    return True


def list_silences(store: Store, project: str, active_only: bool = True,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    rows = store.query(
        f"SELECT {', '.join(_SILENCE_COLUMNS)} FROM alert_silences WHERE project = {{p:String}} "
        "ORDER BY updated_at DESC LIMIT 1 BY silence_id", {"p": project})
    now = now or datetime.now(UTC)
    out = []
    for r in rows:
        if r["deleted"]:
            continue
        active = utc(r["starts_at"]) <= now < utc(r["until"])
        if active or not active_only:
            out.append({**r, "active": active})
    return sorted(out, key=lambda r: r["until"], reverse=True)


def silenced_until(store: Store, project: str, rule: str, now: datetime) -> datetime | None:
    """The end of the silence covering the rule now ('*' silences every rule of the project)."""
    ends = [utc(s["until"]) for s in list_silences(store, project, now=now) if s["rule"] in (rule, "*")]
    return max(ends) if ends else None


def utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
