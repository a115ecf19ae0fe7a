"""Judges API: worker status, backfills, annotation queues and judge calibration.

The judges themselves live in `judges/` (state.judges is a judges.service.JudgeService); this module
only maps HTTP to them, with the same auth dependencies and error shape as the rest of the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from collector.api import AdminKey, ReadKey, require
from collector.auth import AuthError
from judges import review
from judges.backfill import BackfillRequest
from judges.calibration import calibrate
from judges.llm import LLMJudge
from store.calibration import calibration_scores, judge_names
from store.keys import ApiKey
from store.queues import progress as queue_progress

ReviewKey = Annotated[ApiKey, require("review")]


def _read_or_review(request: Request) -> ApiKey:
    """Listing queues is for readers (the dashboard) and for reviewers (who may hold only `review`)."""
    auth = request.app.state.loupe.auth
    try:
        return auth.authenticate(request, "read")
    except AuthError as exc:
        if exc.status != 403:
            raise
        return auth.authenticate(request, "review")


QueueReader = Annotated[ApiKey, Depends(_read_or_review)]


def _judges(request: Request) -> Any:
    return request.app.state.loupe.judges


class BackfillIn(BaseModel):
    since: datetime
    until: datetime | None = None
    evaluator: str = Field(min_length=1, max_length=128)
    rate: float | None = Field(default=None, ge=0.0, le=1.0)  # default: the sampling rules' rates


def _backfill(request: Request, key: ApiKey, body: BackfillIn) -> BackfillRequest:
    service = _judges(request)
    if body.evaluator not in service.evaluators:
        configured = ", ".join(service.evaluators) or "none (add `judges.evaluators` to loupe.yaml)"
        raise HTTPException(400, f"no evaluator {body.evaluator!r} is configured; configured: {configured}")
    aware = [d if d is None or d.tzinfo else d.replace(tzinfo=UTC) for d in (body.since, body.until)]
    since, until = aware[0], aware[1] or datetime.now(UTC)
    if since >= until:
        raise HTTPException(400, "since must be before until")
    return BackfillRequest(key.project, body.evaluator, since, until, body.rate)


def _when(text: str | None) -> datetime | None:
    """A lenient query datetime: empty means unset (the dashboard sends `end=` for "until now")."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"not an ISO date/time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _review(exc: review.ReviewError) -> HTTPException:
    return HTTPException(exc.status, exc.detail if len(exc.detail) > 1 else exc.detail["message"])


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/judges/status", tags=["judges"], summary="The online judge worker: lag, pending work, budgets")
    def judges_status(request: Request, key: ReadKey) -> dict[str, Any]:
        return _judges(request).status()

    @router.post("/judges/backfill/estimate", tags=["judges"],
                 summary="What a backfill would score, and what it would cost")
    def backfill_estimate(request: Request, key: AdminKey, body: BackfillIn) -> dict[str, Any]:
        return _judges(request).backfills.estimate(_backfill(request, key, body))

    @router.post("/judges/backfill", tags=["judges"], status_code=202, summary="Start a backfill job")
    def backfill_start(request: Request, key: AdminKey, body: BackfillIn) -> dict[str, Any]:
        started = _judges(request).backfills.start(_backfill(request, key, body), key.name)
        return {**started, "job_id": started["job"]["id"]}

    @router.get("/judges/jobs/{job_id}", tags=["judges"], summary="A backfill job's progress")
    def backfill_job(request: Request, key: ReadKey, job_id: str) -> dict[str, Any]:
        job = _judges(request).backfills.job(key.project, job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id} in project {key.project}")
        return job

    @router.get("/judges/calibration", tags=["judges"], summary="Agreement of each LLM judge with human scores")
    def calibration(request: Request, key: ReadKey, start: str | None = None, end: str | None = None
                    ) -> dict[str, Any]:
        """`start`/`end` (ISO, optional): compare the human reviews made in that window."""
        service = _judges(request)
        judged, people = calibration_scores(request.app.state.loupe.store, key.project, _when(start), _when(end))
        configured = {n for n, ev in service.evaluators.items() if isinstance(ev, LLMJudge)}
        names = configured | set(judge_names(request.app.state.loupe.store, key.project))
        cfg = service.config
        return {"min_agreement": cfg.calibration_min_agreement, "min_pairs": cfg.calibration_min_pairs,
                "data": calibrate(judged, people, names, cfg.calibration_min_agreement, cfg.calibration_min_pairs)}

    @router.post("/queues", tags=["review"], status_code=201, summary="Create an annotation queue")
    def create_queue(request: Request, key: AdminKey, body: review.QueueIn) -> dict[str, Any]:
        state = request.app.state.loupe
        queue = review.create(state.store, key.project, body, key.name, state.settings.retention_days)
        progress = queue_progress(state.store, key.project, key.name).get(queue["queue_id"])
        return review.queue_out(queue, progress)

    @router.get("/queues", tags=["review"], summary="The project's annotation queues and their progress")
    def list_queues(request: Request, key: QueueReader) -> dict[str, Any]:
        return {"data": review.listing(request.app.state.loupe.store, key.project, key.name)}

    @router.post("/queues/{queue_id}/refill", tags=["review"], summary="Add newly matching traces to a queue")
    def refill_queue(request: Request, key: AdminKey, queue_id: str) -> dict[str, Any]:
        state = request.app.state.loupe
        try:
            queue = review.get(state.store, key.project, queue_id)
        except review.ReviewError as exc:
            raise _review(exc) from None
        return {"added": review.fill(state.store, queue, state.settings.retention_days)}

    @router.get("/queues/{queue_id}/next", tags=["review"], summary="The next item for the calling reviewer",
                responses={204: {"description": "nothing left for this reviewer"}})
    def next_item(request: Request, key: ReviewKey, queue_id: str) -> Any:
        state = request.app.state.loupe
        try:
            queue = review.get(state.store, key.project, queue_id)
        except review.ReviewError as exc:
            raise _review(exc) from None
        found = review.next_item(state.store, state.judges.queue_lock, queue, key.name)
        return found if found is not None else Response(status_code=204)

    @router.post("/queues/{queue_id}/items/{item_id}/score", tags=["review"], status_code=201,
                 summary="Score a queue item (a human score on its trace)")
    def score_item(request: Request, key: ReviewKey, queue_id: str, item_id: str,
                   body: review.VerdictIn) -> dict[str, Any]:
        state = request.app.state.loupe
        try:
            queue = review.get(state.store, key.project, queue_id)
            return review.submit(state.store, state.judges.queue_lock, queue, item_id, key.name, body)
        except review.ReviewError as exc:
            raise _review(exc) from None

    return router
