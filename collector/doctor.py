"""`loupe doctor`: what is wrong with this deployment, in words an operator can act on.

The checks run inside the server (GET /api/admin/doctor: the embedded store can only be opened by the
process that serves it) or in the CLI against a server DSN directly. Each check returns ok, warn, fail
or skip with one line of detail; none raises.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from store.client import Store, StoreError, _redact_dsn
from store.migrate import applied_versions, load_migrations

Status = Literal["ok", "warn", "fail", "skip"]
SKEW_WARN_S = 1.0
SKEW_FAIL_S = 30.0  # beyond this, ingestion-time watermarks and lease expiries mislead


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def check_store(store: Store) -> Check:
    try:
        version = store.query_rows("SELECT version()")[0][0]
    except StoreError as exc:
        return Check("store", "fail", f"cannot query {_redact_dsn(store.dsn)}: {str(exc)[:300]}")
    kind = "embedded chDB" if store.embedded else "server"
    return Check("store", "ok", f"ClickHouse {version} ({kind}, {_redact_dsn(store.dsn)}, database {store.database})")


def check_schema(store: Store) -> Check:
    try:
        exists = store.query_rows("EXISTS TABLE schema_migrations")[0][0]
        done = applied_versions(store) if exists else set()
    except StoreError as exc:
        return Check("schema", "fail", f"cannot read schema_migrations: {str(exc)[:200]}")
    code = {m.version: f"{m.version:04d}_{m.name}" for m in load_migrations()}
    pending = [code[v] for v in sorted(set(code) - done)]
    if pending:
        return Check("schema", "fail", f"{len(pending)} migration(s) pending ({', '.join(pending[:5])}): "
                                       "run `loupe migrate apply` (or restart `loupe serve`)")
    unknown = sorted(done - set(code))
    if unknown:
        return Check("schema", "warn", f"the store has migrations this code does not know ({unknown}): "
                                       "is an older Loupe talking to a newer schema?")
    return Check("schema", "ok", f"version {max(code):04d}, {len(code)} migrations applied")


def check_clock(store: Store) -> Check:
    try:
        before = time.time()
        store_now = float(store.query_rows("SELECT toUnixTimestamp64Milli(now64(3))")[0][0]) / 1000
        after = time.time()
    except StoreError as exc:
        return Check("clock", "fail", f"cannot read the store's clock: {str(exc)[:200]}")
    skew = store_now - (before + after) / 2
    rtt = after - before
    detail = f"this host is {abs(skew):.3f}s {'behind' if skew > 0 else 'ahead of'} the store (round trip {rtt:.3f}s)"
    if abs(skew) - rtt / 2 >= SKEW_FAIL_S:
        return Check("clock", "fail", detail + ": sync both with NTP")
    if abs(skew) - rtt / 2 >= SKEW_WARN_S:
        return Check("clock", "warn", detail)
    return Check("clock", "ok", detail)


def check_wal_live(state: Any) -> Check:
    """The running collector's WAL and writer."""
    wal, max_bytes = state.wal, state.settings.wal.max_bytes
    pending = wal.pending_bytes
    detail = (f"{pending} of {max_bytes} bytes pending ({pending / max_bytes:.0%}), {wal.pending_records} "
              f"records, {wal.segments} segment(s) in {wal.directory}")
    if not state.writer.healthy:
        return Check("wal", "fail", f"{detail}; the writer is failing: {state.writer.last_error[:200]}")
    if pending >= max_bytes * 0.95:
        return Check("wal", "fail", detail + "; exports are being refused (503/RESOURCE_EXHAUSTED)")
    if pending >= max_bytes * 0.5:
        return Check("wal", "warn", detail + "; the store is not keeping up")
    return Check("wal", "ok", detail)


def check_wal_dir(directory: str, max_bytes: int) -> Check:
    """A WAL directory on disk, read without opening it (its collector may be running)."""
    path = Path(directory)
    if not path.exists():
        return Check("wal", "skip", f"no WAL at {path} (no collector on this host, or not started yet)")
    segments = sorted(path.glob("*.wal"))
    size = sum(s.stat().st_size for s in segments)
    try:
        state = json.loads((path / "state.json").read_text())
        checkpoint = f"checkpoint at record {state['checkpoint']}"
    except (OSError, ValueError, KeyError):
        checkpoint = "no readable state.json"
    detail = f"{len(segments)} segment(s), {size} bytes on disk in {path}, {checkpoint}"
    if not os.access(path, os.W_OK):
        return Check("wal", "fail", detail + "; the directory is not writable")
    if size >= max_bytes * 0.95:
        return Check("wal", "warn", detail + "; close to wal.max_bytes (segments are removed after checkpoints)")
    return Check("wal", "ok", detail)


def check_judges(judges: dict[str, Any], timeout_s: float = 5.0) -> Check:
    endpoint = (judges or {}).get("endpoint") or {}
    base_url = endpoint.get("base_url") or os.environ.get("LOUPE_JUDGE_BASE_URL")
    if not base_url:
        return Check("judges", "skip", "no judges.endpoint.base_url configured (LLM judges off)")
    key = os.environ.get(endpoint.get("api_key_env") or "LOUPE_JUDGE_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = base_url.rstrip("/") + "/models"
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Check("judges", "fail", f"judge endpoint {base_url} unreachable: {exc.__class__.__name__}: {exc}")
    if response.status_code in (401, 403):
        env = endpoint.get("api_key_env") or "LOUPE_JUDGE_API_KEY"
        return Check("judges", "warn", f"judge endpoint {base_url} answers but refuses the key "
                                       f"({response.status_code}): check {env}")
    if response.status_code == 404:
        return Check("judges", "warn", f"{url} is 404: base_url should be the API root an OpenAI client "
                                       "takes (usually ending in /v1)")
    if response.status_code >= 500:
        return Check("judges", "warn", f"judge endpoint {base_url} answers {response.status_code} on /models")
    return Check("judges", "ok", f"judge endpoint {base_url} reachable ({response.status_code} on /models)")


def check_cluster(store: Store, cluster: str | None) -> Check:
    if not cluster:
        return Check("cluster", "skip", "no cluster configured (single node)")
    try:
        hosts = store.query_rows("SELECT count() FROM system.clusters WHERE cluster = {c:String}", {"c": cluster})[0][0]
        macros = {r[0] for r in store.query_rows("SELECT macro FROM system.macros")}
    except StoreError as exc:
        return Check("cluster", "fail", f"cannot read system.clusters: {str(exc)[:200]}")
    if not hosts:
        return Check("cluster", "fail", f"cluster '{cluster}' is not in this server's remote_servers")
    missing = {"shard", "replica"} - macros
    if missing:
        return Check("cluster", "fail", f"macros {sorted(missing)} are not defined on this server")
    return Check("cluster", "ok", f"cluster '{cluster}': {hosts} host(s), shard/replica macros set")


def store_checks(store: Store, cluster: str | None) -> list[Check]:
    first = check_store(store)
    if first.status == "fail":
        return [first]
    return [first, check_schema(store), check_clock(store), check_cluster(store, cluster)]


def worst(checks: list[Check]) -> Status:
    order = {"skip": 0, "ok": 0, "warn": 1, "fail": 2}
    return max((c.status for c in checks), key=lambda s: order[s], default="ok")


def format_report(checks: list[dict[str, str]]) -> str:
    return "\n".join(f"{c['status']:<5} {c['name']:<8} {c['detail']}" for c in checks)
