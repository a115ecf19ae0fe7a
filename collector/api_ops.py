"""Operations API: per-project retention and the doctor's report (admin scope)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, model_validator

from collector import doctor
from collector.settings import Settings
from store import retention
from store.client import Store
from store.keys import ApiKey

log = logging.getLogger(__name__)


def _state(request: Request) -> Any:
    return request.app.state.loupe


def _admin(request: Request) -> ApiKey:
    return _state(request).auth.authenticate(request, "admin")


AdminKey = Annotated[ApiKey, Depends(_admin)]


class RetentionIn(BaseModel):
    days: int = Field(ge=1, le=retention.MAX_DAYS)
    content_days: int | None = Field(default=None, ge=1, le=retention.MAX_DAYS)

    @model_validator(mode="after")
    def _content_not_longer(self) -> RetentionIn:
        if self.content_days is not None and self.content_days > self.days:
            raise ValueError("content_days cannot exceed days: content never outlives its span")
        return self


def _configured(settings: Settings) -> dict[str, tuple[int | None, int | None]]:
    return {name: (p.retention_days, p.content_retention_days) for name, p in settings.projects.items()
            if p.retention_days or p.content_retention_days}


def enforce_retention(store: Store, settings: Settings) -> dict[str, str]:
    """At start: loupe.yaml's per-project retention into `projects`, then every TTL in line."""
    retention.sync_config(store, _configured(settings), settings.retention_days)
    changed = retention.apply(store, settings.retention_days, settings.content_retention_days, settings.cluster)
    if changed:
        log.info("retention TTL updated on %s", ", ".join(sorted(changed)))
    return changed


def _retention_out(store: Store, settings: Settings, project: str) -> dict[str, Any]:
    for p in retention.effective(store, settings.retention_days, settings.content_retention_days):
        if p.project == project:
            return {"project": p.project, "days": p.days, "content_days": p.content_days,
                    "source": p.source or "default"}
    raise HTTPException(404, f"no project {project}")


def _own(key: ApiKey, project: str) -> None:
    if project != key.project:
        raise HTTPException(403, f"an admin key of '{key.project}' cannot manage project '{project}'")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/admin", tags=["admin"])

    @router.get("/projects/{project}/retention", summary="A project's retention as enforced")
    def get_retention(request: Request, key: AdminKey, project: str) -> dict[str, Any]:
        _own(key, project)
        state = _state(request)
        return _retention_out(state.store, state.settings, project)

    @router.put("/projects/{project}/retention",
                summary="Set a project's retention (days) and content retention; metadata only, no rewrite")
    def set_retention(request: Request, key: AdminKey, project: str, body: RetentionIn) -> dict[str, Any]:
        _own(key, project)
        state = _state(request)
        settings: Settings = state.settings
        if project in _configured(settings):
            raise HTTPException(409, f"the retention of '{project}' is set in loupe.yaml (projects.{project}); "
                                     "change it there, it is applied at start")
        if not retention.set_project(state.store, project, body.days, body.content_days, "api"):
            raise HTTPException(404, f"no project {project}")
        changed = retention.apply(state.store, settings.retention_days, settings.content_retention_days,
                                  settings.cluster)
        return {**_retention_out(state.store, settings, project), "tables_changed": sorted(changed)}

    @router.get("/doctor", summary="Store, schema, WAL, clock, cluster and judge endpoint checks")
    def run_doctor(request: Request, key: AdminKey) -> dict[str, Any]:
        state = _state(request)
        checks = doctor.store_checks(state.store, state.settings.cluster)
        checks.insert(1, doctor.check_wal_live(state))
        checks.append(doctor.check_judges(state.settings.judges))
        return {"status": doctor.worst(checks), "checks": [c.as_dict() for c in checks]}

    return router
