"""The `loupe` command. Only `serve` and `migrate` open the store; the rest are API clients."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx

ENV_URL = "LOUPE_URL"
ENV_KEY = "LOUPE_API_KEY"
DEFAULT_URL = "http://127.0.0.1:4318"


def _settings(args: argparse.Namespace):
    from collector.settings import load_settings

    overrides: dict[str, Any] = {name: getattr(args, name, None) for name in ("host", "port", "grpc_port", "cluster")}
    if getattr(args, "dsn", None):
        overrides["dsn"] = args.dsn
    elif getattr(args, "data_dir", None):
        overrides["dsn"] = f"chdb://{os.path.abspath(args.data_dir)}"
    return load_settings(getattr(args, "config", None), **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.app import create_app

    settings = _settings(args)
    if args.no_judges:  # the judge worker runs elsewhere (`loupe judges --shard i/N`)
        settings.judges = {**settings.judges, "enabled": False}
    if settings.data_dir:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    grpc = f", OTLP/gRPC on {settings.host}:{settings.grpc_port}" if settings.grpc_port else ""
    print(f"Loupe collector on http://{settings.host}:{settings.port} (OTLP/HTTP at /v1/traces{grpc}, "
          "API docs at /docs)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from store.client import Store
    from store.migrate import applied_versions, load_migrations, migrate

    settings = _settings(args)
    if args.action == "print" or args.print:  # rendering needs no store (nor a cluster)
        from collector.cli_ops import database_of

        for m in load_migrations(settings.retention_days, settings.cluster, database_of(settings)):
            print(f"-- {m.version:04d}_{m.name}")
            for statement in m.statements:
                print(statement + ";\n")
        return 0
    store = Store(settings.dsn, settings.database)
    if args.action == "status":
        migrate_table = store.query_rows("EXISTS TABLE schema_migrations")[0][0]
        done = applied_versions(store) if migrate_table else set()
        for m in load_migrations(settings.retention_days):
            print(f"{m.version:04d}_{m.name}: {'applied' if m.version in done else 'pending'}")
        return 0
    applied = migrate(store, settings.retention_days, cluster=settings.cluster)
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0


# --- API clients ------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get(ENV_URL) or DEFAULT_URL
    key = args.api_key or os.environ.get(ENV_KEY)
    if not key:
        creds = Path(".loupe/credentials")
        if creds.exists():
            key = creds.read_text().strip()
    if not key:
        raise SystemExit(f"no API key: set {ENV_KEY} (an admin key) or pass --api-key")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise SystemExit(f"cannot reach the Loupe server at {client.base_url}: {exc}") from None
    if response.status_code >= 400:
        try:
            body = response.json()
            message = body.get("detail") or body.get("error")
        except ValueError:
            message = response.text
        raise SystemExit(f"error {response.status_code}: {message}")
    return response.json()


def cmd_keys(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.action == "list":
            for k in _call(client, "GET", "/api/keys")["data"]:
                state = "revoked" if k["revoked_at"] else "active"
                print(f"{k['key_id']}  {k['prefix']}…  {k['name']:<20} {','.join(k['scopes']):<24} {state}")
        elif args.action == "create":
            body = {"name": args.name, "scopes": args.scopes.split(","), "project": args.project}
            created = _call(client, "POST", "/api/keys", json=body)
            print(json.dumps(created, default=str, indent=2) if args.json else
                  f"created key {created['key_id']} for project {created['project']} "
                  f"({','.join(created['scopes'])}); the secret is shown only now:\n{created['secret']}")
        elif args.action == "revoke":
            _call(client, "POST", f"/api/keys/{args.key_id}/revoke")
            print(f"revoked {args.key_id}")
        elif args.action == "rotate":
            created = _call(client, "POST", f"/api/keys/{args.key_id}/rotate")
            print(f"rotated {args.key_id} → {created['key_id']}; new secret:\n{created['secret']}")
    return 0


def _add_client_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help=f"Loupe server URL (env {ENV_URL}, default {DEFAULT_URL})")
    p.add_argument("--api-key", help=f"API key (env {ENV_KEY})")


def _add_store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="loupe.yaml (default: ./loupe.yaml if present)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--data-dir", help="embedded store directory (default ./.loupe/data)")
    group.add_argument("--dsn", help="chdb:///path or http(s)://user:pass@host:8123/db")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loupe", description="Loupe: LLM observability and evaluation.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the collector, read API and workers")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--grpc-port", type=int, help="OTLP/gRPC port (default 4317; 0 disables it)")
    serve.add_argument("--no-judges", action="store_true", help="do not run the online judge worker here")
    _add_store_flags(serve)
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="schema migrations (opens the store: stop `serve` first when embedded)")
    mig.add_argument("action", choices=["status", "apply", "print"], nargs="?", default="apply")
    mig.add_argument("--print", action="store_true", help="print the DDL instead of applying it (= `print`)")
    mig.add_argument("--cluster", help="render/apply for this ClickHouse cluster (setting `cluster`)")
    _add_store_flags(mig)
    mig.set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys (admin key of the running server)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    k_list = keys_sub.add_parser("list")
    k_create = keys_sub.add_parser("create")
    k_create.add_argument("--name", required=True)
    k_create.add_argument("--scopes", default="ingest", help="comma-separated: ingest,read,review,admin")
    k_create.add_argument("--project", help="default: the admin key's project")
    k_create.add_argument("--json", action="store_true")
    k_revoke = keys_sub.add_parser("revoke")
    k_revoke.add_argument("key_id")
    k_rotate = keys_sub.add_parser("rotate")
    k_rotate.add_argument("key_id")
    for p in (k_list, k_create, k_revoke, k_rotate):
        _add_client_flags(p)
    keys.set_defaults(func=cmd_keys)

    from judges.cli import add_parsers as add_judges

    add_judges(sub)

    from dashboard.cli import add_parser as add_dashboard

    add_dashboard(sub)

    from collector.demo.cli import add_parser as add_demo

    add_demo(sub)

    from collector.cli_ops import add_parsers as add_ops

    add_ops(sub)

    from analytics.cli import add_parsers as add_trends

    add_trends(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
