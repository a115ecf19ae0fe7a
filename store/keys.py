"""API keys and projects. Keys are stored as SHA-256 hex; the secret itself is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from store.client import Store

SCOPES = ("ingest", "read", "review", "admin")
KEY_PREFIX = "lp_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    project: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


def _row(r: dict) -> ApiKey:
    return ApiKey(r["key_id"], r["project"], r["name"], r["prefix"], tuple(r["scopes"]), r["created_at"],
                  r["revoked_at"])


class KeyRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    def ensure_project(self, name: str, retention_days: int) -> None:
        exists = self.store.query_rows("SELECT 1 FROM projects FINAL WHERE name = {n:String}", {"n": name})
        if not exists:
            now = _now()
            self.store.insert("projects", [(name, retention_days, now, now)],
                              ["name", "retention_days", "created_at", "updated_at"])

    def projects(self) -> list[dict]:
        return self.store.query("SELECT name, retention_days, created_at FROM projects FINAL ORDER BY name")

    def create(self, project: str, name: str, scopes: list[str] | tuple[str, ...],
               secret: str | None = None, retention_days: int = 30) -> tuple[ApiKey, str]:
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
        self.ensure_project(project, retention_days)
        secret = secret or new_secret()
        now = _now()
        key = ApiKey(uuid.uuid4().hex[:16], project, name, secret[:10], tuple(scopes), now, None)
        self.store.insert(
            "api_keys",
            [(key.key_id, project, name, key.prefix, hash_key(secret), list(scopes), now, None, now)],
            ["key_id", "project", "name", "prefix", "key_hash", "scopes", "created_at", "revoked_at",
             "updated_at"],
        )
        return key, secret

    def by_secret(self, secret: str) -> ApiKey | None:
        rows = self.store.query(
            "SELECT key_id, project, name, prefix, scopes, created_at, revoked_at FROM api_keys FINAL "
            "WHERE key_hash = {h:String} LIMIT 1", {"h": hash_key(secret)})
        return _row(rows[0]) if rows else None

    def get(self, key_id: str) -> ApiKey | None:
        rows = self.store.query(
            "SELECT key_id, project, name, prefix, scopes, created_at, revoked_at FROM api_keys FINAL "
            "WHERE key_id = {k:String}", {"k": key_id})
        return _row(rows[0]) if rows else None

    def list(self, project: str) -> list[ApiKey]:
        rows = self.store.query(
            "SELECT key_id, project, name, prefix, scopes, created_at, revoked_at FROM api_keys FINAL "
            "WHERE project = {p:String} ORDER BY created_at", {"p": project})
        return [_row(r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        self.store.command(
            "INSERT INTO api_keys SELECT key_id, project, name, prefix, key_hash, scopes, created_at, "
            "now64(3), now64(6) FROM api_keys FINAL WHERE key_id = {k:String} AND revoked_at IS NULL",
            {"k": key_id})
        key = self.get(key_id)
        return key is not None and key.revoked_at is not None

    def ensure_secret(self, project: str, name: str, secret: str, scopes: tuple[str, ...],
                      retention_days: int) -> ApiKey:
        """Idempotent bootstrap: a known secret becomes an admin key once."""
        existing = self.by_secret(secret)
        if existing is not None and existing.revoked_at is None:
            return existing
        key, _ = self.create(project, name, scopes, secret=secret, retention_days=retention_days)
        return key

    def count(self) -> int:
        return int(self.store.query_rows("SELECT count() FROM api_keys FINAL")[0][0])
