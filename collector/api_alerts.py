"""Alerts API: rules and their state, history, silences, and trying a rule. Reading needs `read`;
silencing, testing (it sends notices) and evaluating now need `admin`. Rules come from loupe.yaml.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, model_validator

from analytics.alerts import history as h
from analytics.alerts.config import AlertsConfig, load_alerts, parse_duration
from analytics.alerts.scheduler import Scheduler
from collector.api import AdminKey, ReadKey, _state


class SilenceIn(BaseModel):
    rule: str = Field(min_length=1, max_length=128, description="a rule name, or * for every rule of the project")
    duration: str | None = Field(default=None, description="e.g. 30m, 2h, 1d")
    until: datetime | None = None
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _one(self) -> SilenceIn:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give either duration or until")
        return self


class TestIn(BaseModel):
    dry_run: bool = False


def _config(request: Request) -> AlertsConfig:
    try:
        return load_alerts(_state(request).settings.alerts)
    except ValueError as exc:
        raise HTTPException(500, f"invalid alerts configuration: {exc}") from None


def _scheduler(request: Request) -> Scheduler:
    """The running scheduler, or one made for this request (when `serve` runs none: no rules enabled)."""
    running = getattr(request.app.state, "alerts", None)
    if running is not None:
        return running
    state = _state(request)
    return Scheduler(state.store, state.settings, _config(request))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/alerts", tags=["alerts"])

    @router.get("/rules", summary="The project's alert rules with their state and silences")
    def get_rules(request: Request, key: ReadKey) -> dict[str, Any]:
        cfg, store = _config(request), _state(request).store
        states = h.rule_states(store, key.project)
        now = datetime.now(UTC)
        silences = h.list_silences(store, key.project, now=now)
        out = []
        for rule in cfg.rules_of(key.project):
            last = states.get((key.project, rule.name))
            until = [s["until"] for s in silences if s["rule"] in (rule.name, "*")]
            out.append({**rule.model_dump(exclude={"project"}), "state": "firing" if last and last["kind"] == "firing"
                        else "ok" if last else "never fired", "last_event": last,
                        "silenced_until": max(until) if until else None})
        return {"data": out, "interval_s": cfg.interval_s, "channels": sorted(cfg.channels),
                "scheduler": getattr(request.app.state, "alerts", None) is not None}

    @router.get("/events", summary="Alert history: firing, resolved, test and report notices, newest first")
    def get_events(request: Request, key: ReadKey, rule: str | None = None,
                   kind: Annotated[list[str] | None, Query()] = None, since: datetime | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        return {"data": h.list_events(_state(request).store, key.project, rule, kind, limit, since)}

    @router.post("/rules/{name}/test", summary="Evaluate a rule now and send a TEST notice to its channels (admin)")
    def test_rule(request: Request, key: AdminKey, name: str, body: TestIn | None = None) -> dict[str, Any]:
        try:
            return _scheduler(request).test_rule(key.project, name, dry_run=bool(body and body.dry_run))
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from None

    @router.post("/evaluate", summary="Evaluate every rule of the project now (admin)")
    def evaluate_now(request: Request, key: AdminKey) -> dict[str, Any]:
        events = _scheduler(request).tick(force=True, projects={key.project})
        return {"events": [{k: getattr(e, k) for k in h.EVENT_COLUMNS} for e in events]}

    @router.get("/silences", summary="Silences (active ones unless all=true)")
    def get_silences(request: Request, key: ReadKey, all: bool = False) -> dict[str, Any]:
        return {"data": h.list_silences(_state(request).store, key.project, active_only=not all)}

    @router.post("/silences", status_code=201, summary="Silence a rule for a period (admin)")
    def post_silence(request: Request, key: AdminKey, body: SilenceIn) -> dict[str, Any]:
        cfg = _config(request)
        if body.rule != "*" and cfg.rule(key.project, body.rule) is None:
            raise HTTPException(404, f"no alert rule {body.rule!r} in project {key.project!r}")
        now = datetime.now(UTC)
        try:
            until = now + parse_duration(body.duration) if body.duration else body.until
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        until = until.replace(tzinfo=UTC) if until.tzinfo is None else until
        if until <= now:
            raise HTTPException(400, "a silence must end in the future")
        return h.add_silence(_state(request).store, key.project, body.rule, until, body.reason, key.name, now)

    @router.delete("/silences/{silence_id}", summary="Lift a silence (admin)")
    @router.post("/silences/{silence_id}/lift", summary="Lift a silence (admin; same as DELETE)")
    def delete_silence(request: Request, key: AdminKey, silence_id: str) -> dict[str, Any]:
        if not h.lift_silence(_state(request).store, key.project, silence_id):
            raise HTTPException(404, f"no silence {silence_id} in project {key.project}")
        return {"lifted": silence_id}

    return router
