"""`loupe doctor` and `loupe projects`: operations commands, clients of the running server's API.

`loupe doctor --dsn http://…` is the one exception: it checks a ClickHouse server directly (a host
that runs no collector, or a collector that will not start). The embedded store belongs to the
process that serves it, so for `chdb://` the doctor always asks that process.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlparse

from collector.settings import Settings


def database_of(settings: Settings) -> str:
    """The database the store would use (as store.client.Store derives it)."""
    if settings.database:
        return settings.database
    if settings.dsn.startswith("chdb://"):
        return "default"
    return urlparse(settings.dsn).path.strip("/") or "default"


def _print_checks(checks: list[dict[str, str]], as_json: bool) -> int:
    from collector import doctor

    if as_json:
        print(json.dumps({"checks": checks}, indent=2))
    else:
        print(doctor.format_report(checks))
    failed = [c["name"] for c in checks if c["status"] == "fail"]
    if failed:
        print(f"\n{len(failed)} check(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _doctor_direct(args: argparse.Namespace) -> int:
    from collector import doctor
    from collector.cli import _settings
    from store.client import Store, StoreError

    settings = _settings(args)
    if settings.dsn.startswith("chdb://"):
        raise SystemExit("the embedded store is opened only by `loupe serve`: run `loupe doctor` without --dsn "
                         "to ask the running server (LOUPE_URL, LOUPE_API_KEY)")
    try:
        store = Store(settings.dsn, settings.database)
    except StoreError as exc:
        checks = [doctor.Check("store", "fail", str(exc)[:300] + ": check the DSN's host, port and password")]
    else:
        checks = doctor.store_checks(store, settings.cluster)
    checks.append(doctor.check_wal_dir(settings.wal.dir, settings.wal.max_bytes))
    checks.append(doctor.check_judges(settings.judges))
    return _print_checks([c.as_dict() for c in checks], args.json)


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.dsn:
        return _doctor_direct(args)
    import httpx

    from collector.cli import _call, _client

    with _client(args) as client:
        try:
            response = client.get("/api/admin/doctor")
        except httpx.HTTPError as exc:
            return _print_checks([{"name": "server", "status": "fail",
                                   "detail": f"cannot reach the Loupe server at {client.base_url}: {exc}; "
                                             "is `loupe serve` running (LOUPE_URL)?"}], args.json)
        if response.status_code >= 400:
            _call(client, "GET", "/api/admin/doctor")  # exits with the server's reason (401/403…)
        return _print_checks(response.json()["checks"], args.json)


def cmd_projects(args: argparse.Namespace) -> int:
    from collector.cli import _call, _client

    path = f"/api/admin/projects/{args.name}/retention"
    with _client(args) as client:
        if args.action == "set-retention":
            body: dict[str, Any] = {"days": args.days, "content_days": args.content_days}
            out = _call(client, "PUT", path, json=body)
        else:
            out = _call(client, "GET", path)
    print(f"project {out['project']}: rows kept {out['days']} days, content {out['content_days']} days "
          f"({out['source']})" + (f"; TTL updated on {', '.join(out['tables_changed'])}"
                                  if out.get("tables_changed") else ""))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from collector.cli import _add_client_flags

    doc = sub.add_parser("doctor", help="check the store, schema, WAL, clock and judge endpoint")
    _add_client_flags(doc)
    doc.add_argument("--dsn", help="check a ClickHouse server directly (http(s)://user:pass@host:8123/db)")
    doc.add_argument("--config", help="loupe.yaml (with --dsn: WAL directory, cluster, judges endpoint)")
    doc.add_argument("--json", action="store_true")
    doc.set_defaults(func=cmd_doctor)

    projects = sub.add_parser("projects", help="project settings (admin key of the running server)")
    psub = projects.add_subparsers(dest="action", required=True)
    setr = psub.add_parser("set-retention", help="days rows are kept; --content-days for inputs/outputs")
    setr.add_argument("name")
    setr.add_argument("days", type=int)
    setr.add_argument("--content-days", type=int, help="keep content (inputs, outputs, documents…) this long")
    show = psub.add_parser("retention", help="show a project's retention")
    show.add_argument("name")
    for p in (setr, show):
        _add_client_flags(p)
    projects.set_defaults(func=cmd_projects)
