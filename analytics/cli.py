"""`loupe alerts …` and `loupe report …`. All are API clients of the running server except `alerts run`,
the scheduler as its own process (for cron with `--once`, or a separate process against a ClickHouse
server); it opens the store, so with the embedded store it runs only while `loupe serve` does not.

    loupe alerts list | history [--rule R] | test RULE [--dry-run]
    loupe alerts silence RULE --for 2h [--reason …] | unsilence ID | silences
    loupe alerts run [--once]
    loupe report --week 2026-W48 --project NAME [--out DIR] [--format html,md]
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from collector.cli import _add_client_flags, _add_store_flags, _call, _client, _settings


def _print_json(data: Any) -> None:
    print(json.dumps(data, default=str, indent=2))


def cmd_alerts(args: argparse.Namespace) -> int:
    if args.action == "run":
        return _run(args)
    with _client(args) as client:
        if args.action == "list":
            for r in _call(client, "GET", "/api/alerts/rules")["data"]:
                silenced = f"  silenced until {r['silenced_until']}" if r["silenced_until"] else ""
                print(f"{r['name']:<28} {r['kind']:<10} {r['state']:<12} {r.get('metric') or '':<24} "
                      f"window {r['window']}{silenced}")
        elif args.action == "history":
            params = {"limit": args.limit, **({"rule": args.rule} if args.rule else {})}
            for e in _call(client, "GET", "/api/alerts/events", params=params)["data"]:
                print(f"{e['created_at']}  {e['kind']:<9} {e['rule']:<24} {e['delivery'][:40]:<40} {e['title']}")
        elif args.action == "test":
            result = _call(client, "POST", f"/api/alerts/rules/{args.rule}/test", json={"dry_run": args.dry_run})
            if args.json:
                _print_json(result)
            else:
                print(f"{args.rule}: {result['status']} — {result['title']}\n{result['message']}\n"
                      f"link: {result['link']}\ndelivery: {result['delivery']}")
        elif args.action == "silence":
            body = {"rule": args.rule, "duration": args.for_, "reason": args.reason or ""}
            s = _call(client, "POST", "/api/alerts/silences", json=body)
            print(f"silenced {s['rule']} until {s['until']} (silence {s['silence_id']})")
        elif args.action == "unsilence":
            _call(client, "DELETE", f"/api/alerts/silences/{args.silence_id}")
            print(f"lifted {args.silence_id}")
        elif args.action == "silences":
            for s in _call(client, "GET", "/api/alerts/silences")["data"]:
                print(f"{s['silence_id']}  {s['rule']:<24} until {s['until']}  by {s['created_by']}  {s['reason']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from analytics.alerts.scheduler import Scheduler, start_scheduler
    from store.client import open_store

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_store(settings.dsn, settings.database, settings.retention_days,
                       cluster=getattr(settings, "cluster", None))
    if args.once:
        events = Scheduler(store, settings).tick(force=True)
        for e in events:
            print(f"{e.kind:<9} {e.project}/{e.rule}: {e.title} ({e.delivery})")
        print(f"evaluated at {datetime.now(UTC).isoformat()}: {len(events)} notice(s)")
        return 0
    scheduler = start_scheduler(store, settings)
    if scheduler is None:
        raise SystemExit("nothing to run: add `alerts.rules` (or `alerts.reports`) to loupe.yaml")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    scheduler.stop()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.report.data import last_full_week

    week = args.week or last_full_week(datetime.now(UTC))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    with _client(args) as client:
        client.timeout = httpx.Timeout(600)  # a week of heavy traffic takes a while to summarise
        for fmt in formats:
            params = {"week": week, "format": fmt, **({"project": args.project} if args.project else {})}
            try:
                response = client.get("/api/reports/weekly", params=params)
            except httpx.HTTPError as exc:
                raise SystemExit(f"cannot reach the Loupe server at {client.base_url}: {exc}") from None
            if response.status_code >= 400:
                raise SystemExit(f"error {response.status_code}: {response.text[:500]}")
            name = response.headers.get("content-disposition", "").partition('filename="')[2].rstrip('"')
            path = out / (name or f"loupe-report-{week}.{fmt}")
            path.write_text(response.text, encoding="utf-8")
            print(path)
    return 0


def add_parsers(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="alert rules: state, history, silences, tests; `run` the scheduler")
    actions = alerts.add_subparsers(dest="action", required=True)
    a_list = actions.add_parser("list", help="rules and their state")
    a_hist = actions.add_parser("history", help="notices sent (and suppressed), newest first")
    a_hist.add_argument("--rule")
    a_hist.add_argument("--limit", type=int, default=50)
    a_test = actions.add_parser("test", help="evaluate a rule now and send a TEST notice to its channels")
    a_test.add_argument("rule")
    a_test.add_argument("--dry-run", action="store_true", help="evaluate only, send nothing")
    a_test.add_argument("--json", action="store_true")
    a_sil = actions.add_parser("silence", help="silence a rule (or * for all) for a period")
    a_sil.add_argument("rule")
    a_sil.add_argument("--for", dest="for_", required=True, help="e.g. 30m, 2h, 1d")
    a_sil.add_argument("--reason")
    a_unsil = actions.add_parser("unsilence", help="lift a silence")
    a_unsil.add_argument("silence_id")
    a_sils = actions.add_parser("silences", help="active silences")
    for p in (a_list, a_hist, a_test, a_sil, a_unsil, a_sils):
        _add_client_flags(p)
    a_run = actions.add_parser("run", help="run the scheduler here (opens the store; --once for cron)")
    a_run.add_argument("--once", action="store_true", help="evaluate every rule once and exit")
    _add_store_flags(a_run)
    alerts.set_defaults(func=cmd_alerts)

    report = sub.add_parser("report", help="write the weekly quality report (HTML and Markdown)")
    report.add_argument("--week", help="ISO week, e.g. 2026-W48 (default: last full week)")
    report.add_argument("--project", help="must be the API key's project (default: the key's)")
    report.add_argument("--out", default=".", help="directory for the files (default: here)")
    report.add_argument("--format", default="html,md", help="comma-separated: html, md, json")
    _add_client_flags(report)
    report.set_defaults(func=cmd_report)

