"""Human review: annotation queues of traces, assigned to one reviewer at a time, scored with a rubric.

A queue is a filter and a rubric; its items are matching traces, sampled when the queue is made (and
again on a refill). `next` leases an item to the calling reviewer for `LEASE_S`: the same reviewer
gets the same item back until they score it or the lease runs out, and two reviewers never hold one
item at once. A submitted verdict is a `human` score on the trace, named after the rubric and signed
with the reviewer's key name, exactly like one sent to POST /api/scores.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from store import queues as q
from store.client import Store
from store.rows import ScoreRow
from store.scores import insert_scores

LEASE_S = 30 * 60


class ReviewError(ValueError):
    def __init__(self, status: int, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status, self.detail = status, {"message": message, **detail}


class LabelChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=64)
    score: float


class Scale(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min >= self.max:
            raise ValueError("scale.min must be below scale.max")
        return self


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    labels: list[LabelChoice] | None = None
    scale: Scale | None = None

    @model_validator(mode="after")
    def _verdict(self) -> Rubric:
        if not self.labels and self.scale is None:
            raise ValueError("a rubric needs `labels` ([{label, score}]) or a `scale` ({min, max})")
        names = [c.label for c in self.labels or []]
        if len(set(names)) != len(names):
            raise ValueError("rubric labels must be distinct")
        return self


class MinScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    lt: float


class QueueFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str | None = None
    model: str | None = None
    kind: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    environment: str | None = None
    min_score: MinScore | None = None


class QueueIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=2000)
    filter: QueueFilter = QueueFilter()
    rubric: Rubric
    sample_rate: float = Field(1.0, gt=0.0, le=1.0)
    max_items: int = Field(100, ge=1, le=10_000)


class VerdictIn(BaseModel):
    value: float | None = Field(default=None, allow_inf_nan=False)
    label: str | None = Field(default=None, max_length=64)
    comment: str = Field(default="", max_length=10_000)


def item_id(queue_id: str, trace_id: str) -> str:
    return hashlib.sha256(f"{queue_id}:{trace_id}".encode()).hexdigest()[:16]


def queue_out(queue: dict[str, Any], progress: dict[str, int] | None) -> dict[str, Any]:
    return {"id": queue["queue_id"], "name": queue["name"], "description": queue["description"],
            "rubric": queue["rubric"], "filter": queue["filter"],
            "progress": progress or {"total": 0, "done": 0, "mine": 0}}


def fill(store: Store, queue: dict[str, Any], window_days: int) -> int:
    """Add matching traces of the last `window_days` until the queue holds max_items; returns how many."""
    known = q.item_traces(store, queue["project"], queue["queue_id"])
    room = queue["max_items"] - len(known)
    if room <= 0:
        return 0
    since = datetime.now(UTC) - timedelta(days=window_days)
    traces = q.matching_traces(store, queue["project"], queue["filter"], since, queue["sample_rate"],
                               queue["max_items"] + len(known))
    new = [(item_id(queue["queue_id"], t), t) for t in traces if t not in known][:room]
    q.add_items(store, queue["project"], queue["queue_id"], new)
    return len(new)


def create(store: Store, project: str, body: QueueIn, author: str, window_days: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    queue = {"project": project, "queue_id": uuid.uuid4().hex[:16], "name": body.name,
             "description": body.description, "filter": body.filter.model_dump(exclude_none=True),
             "rubric": body.rubric.model_dump(exclude_none=True), "sample_rate": body.sample_rate,
             "max_items": body.max_items, "created_by": author, "created_at": now, "updated_at": now}
    q.save_queue(store, queue)
    fill(store, queue, window_days)
    return queue


def get(store: Store, project: str, queue_id: str) -> dict[str, Any]:
    found = q.queues(store, project, queue_id)
    if not found:
        raise ReviewError(404, f"no queue {queue_id} in project {project}")
    return found[0]


def listing(store: Store, project: str, reviewer: str) -> list[dict[str, Any]]:
    progress = q.progress(store, project, reviewer)
    return [queue_out(queue, progress.get(queue["queue_id"])) for queue in q.queues(store, project)]


def next_item(store: Store, lock: threading.Lock, queue: dict[str, Any], reviewer: str) -> dict[str, Any] | None:
    """The reviewer's current item, else a free one leased to them now; None when nothing is left."""
    project, qid = queue["project"], queue["queue_id"]
    with lock:
        now = datetime.now(UTC)
        for candidate in q.open_items(store, project, qid, reviewer, now):
            if candidate["holder"] != reviewer:
                q.lease(store, project, qid, candidate["item_id"], reviewer, uuid.uuid4().hex, now, LEASE_S)
                if q.holder(store, project, qid, candidate["item_id"], now) != reviewer:
                    continue  # another collector leased it a moment earlier
            return {"item_id": candidate["item_id"], "trace_id": candidate["trace_id"], "rubric": queue["rubric"]}
    return None


def check_verdict(rubric: dict[str, Any], body: VerdictIn) -> tuple[float | None, str]:
    """(value, label) as the rubric allows them; ReviewError(400) names what is valid."""
    labels = {c["label"]: c["score"] for c in rubric.get("labels") or []}
    scale = rubric.get("scale")
    if labels:
        label = body.label
        if label is None and body.value is not None:
            matches = [k for k, v in labels.items() if v == body.value]
            label = matches[0] if len(matches) == 1 else None
        if label not in labels:
            shown = "no label" if body.label is None else f"label {body.label!r}"
            raise ReviewError(400, f"{shown} is not valid for rubric {rubric['name']!r}; valid labels: "
                                   f"{', '.join(labels)}", valid_labels=list(labels))
        if body.value is not None and body.value != labels[label]:
            raise ReviewError(400, f"value {body.value:g} does not match label {label!r} (score {labels[label]:g})",
                              valid_labels=list(labels))
        return labels[label], label
    if body.value is None or not scale["min"] <= body.value <= scale["max"]:
        raise ReviewError(400, f"rubric {rubric['name']!r} needs a value from {scale['min']:g} to {scale['max']:g}",
                          scale=scale)
    return body.value, body.label or ""


def submit(store: Store, lock: threading.Lock, queue: dict[str, Any], item_id_: str, reviewer: str,
           body: VerdictIn) -> dict[str, Any]:
    project, qid = queue["project"], queue["queue_id"]
    found = q.item(store, project, qid, item_id_)
    if found is None:
        raise ReviewError(404, f"no item {item_id_} in queue {qid}")
    value, label = check_verdict(queue["rubric"], body)
    with lock:
        now = datetime.now(UTC)
        holder = q.holder(store, project, qid, item_id_, now)
        if holder and holder != reviewer:
            raise ReviewError(409, "this item is assigned to another reviewer")
        others = [r for r in q.done_by(store, project, qid, item_id_) if r != reviewer]
        if others:
            raise ReviewError(409, "this item was already reviewed by someone else")
        row = ScoreRow(project=project, target_type="trace", target_id=found["trace_id"], trace_id=found["trace_id"],
                       name=queue["rubric"]["name"], source="human", author=reviewer, value=value, label=label,
                       comment=body.comment, created_at=now, updated_at=now)
        insert_scores(store, [row])
        q.mark_done(store, project, qid, item_id_, reviewer)
    return {"status": "stored", "item_id": item_id_, "trace_id": found["trace_id"], "name": row.name,
            "value": value, "label": label, "author": reviewer}
