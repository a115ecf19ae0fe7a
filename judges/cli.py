"""`loupe judges …`: the online worker as its own process (it opens the store), and API clients of the
running server for backfills, calibration and status.

    loupe judges --shard 0/2 --dsn http://default:pw@clickhouse:8123/loupe
    loupe judges backfill --since 7d --evaluator groundedness [--until …] [--rate 0.1] [--yes]
    loupe judges calibration
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from collector.cli import _add_client_flags, _add_store_flags, _call, _client, _settings

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FINAL = ("done", "failed", "interrupted")


def parse_when(text: str) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or an age such as 30m, 12h, 7d, 2w."""
    if match := _RELATIVE.match(text.strip()):
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an ISO date/time nor an age like 7d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_worker(args: argparse.Namespace) -> int:
    from judges.sampling import parse_shard
    from judges.service import JudgeService
    from store.client import open_store

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        shard = parse_shard(args.shard)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    service = JudgeService(open_store(settings.dsn, settings.database, settings.retention_days,
                                      cluster=settings.cluster),
                           {**settings.judges, "enabled": True}, shard=shard)
    if service.worker is None:
        raise SystemExit("nothing to run: add `judges.evaluators` and `judges.sampling` to loupe.yaml")
    if args.once:
        service.worker.cycle()
        print(json.dumps(service.worker.status(), default=str, indent=2))
        return 0
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, registry=service.metrics.registry)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    service.start()
    print(f"judge worker {service.worker.name} running ({len(service.evaluators)} evaluators)", file=sys.stderr)
    done.wait()
    service.stop()
    return 0


def _money(usd: float | None) -> str:
    return "unknown (no price for the judge model)" if usd is None else f"${usd:,.4f}"


def _bar(job: dict[str, Any], width: int = 30) -> str:
    filled = int(job["progress"] * width)
    return (f"[{'#' * filled}{'-' * (width - filled)}] {job['progress']:>4.0%} {job['done']}/{job['total']}"
            f"  errors {job['errors']}  {_money(job['cost_usd'])}")


def cmd_backfill(args: argparse.Namespace) -> int:
    body = {"since": args.since.isoformat(), "evaluator": args.evaluator, "rate": args.rate,
            "until": args.until.isoformat() if args.until else None}
    with _client(args) as client:
        est = _call(client, "POST", "/api/judges/backfill/estimate", json=body)
        print(f"Backfill {est['evaluator']} ({est['level']} level), {est['since']} → {est['until']}:\n"
              f"  {est['candidates']} targets in the window, {est['already_scored']} already scored, "
              f"{est['to_score']} to score\n  estimated cost: {_money(est['estimated_cost_usd'])} "
              f"({est['cost_method']})")
        if est["to_score"] == 0:
            print("Nothing to do.")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise SystemExit("not starting without confirmation: pass --yes")
            if input("Start the backfill? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Cancelled.")
                return 1
        job = _call(client, "POST", "/api/judges/backfill", json=body)["job"]
        print(f"job {job['id']} started", flush=True)
        tty, shown = sys.stderr.isatty(), -1
        while True:
            line = _bar(job)
            if tty:
                print("\r" + line, end="", file=sys.stderr, flush=True)
            elif int(job["progress"] * 10) != shown:  # logs get a line per 10%, not a carriage-return mess
                shown = int(job["progress"] * 10)
                print(line, file=sys.stderr, flush=True)
            if job["status"] in _FINAL:
                break
            time.sleep(args.poll)
            job = _poll(client, job["id"])
        if tty:
            print(file=sys.stderr)
    print(f"job {job['id']}: {job['status']} — {job['scored']} scored, {job['errors']} errors, "
          f"{job['not_applicable']} not applicable, {_money(job['cost_usd'])}" +
          (f" ({job['message']})" if job["message"] else ""))
    return 0 if job["status"] == "done" else 1


def _poll(client: httpx.Client, job_id: str) -> dict[str, Any]:
    for attempt in range(5):  # a restarting server is not a failed job
        try:
            return _call(client, "GET", f"/api/judges/jobs/{job_id}")
        except SystemExit:
            if attempt == 4:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "—" if value is None else format(value, fmt)


def cmd_calibration(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = _call(client, "GET", "/api/judges/calibration")
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"{'judge':<24} {'score':<20} {'n':>5} {'accuracy':>9} {'kappa':>7} {'spearman':>9}  verdict")
    for row in report["data"]:
        verdict = "FLAGGED: " + row["reason"] if row["flagged"] else row["reason"]
        print(f"{row['evaluator']:<24} {row['name'] or '—':<20} {row['n']:>5} {_num(row['accuracy']):>9} "
              f"{_num(row['kappa']):>7} {_num(row['spearman']):>9}  {verdict}")
        if row["confusion"] and args.confusion:
            labels = row["confusion"]["labels"]
            print("    human \\ judge " + " ".join(f"{x:>12}" for x in labels))
            for label, counts in zip(labels, row["confusion"]["matrix"], strict=True):
                print(f"    {label:<15} " + " ".join(f"{c:>12}" for c in counts))
    flagged = [r for r in report["data"] if r["flagged"]]
    return 2 if flagged and args.fail_on_flag else 0


def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(json.dumps(_call(client, "GET", "/api/judges/status"), indent=2, default=str))
    return 0


def add_parsers(subparsers: Any) -> None:
    judges = subparsers.add_parser(
        "judges", help="the online judge worker (opens the store), or `backfill`/`calibration`/`status` clients")
    judges.add_argument("--shard", default="0/1", help="this worker's share of the targets, i/N (default 0/1)")
    judges.add_argument("--once", action="store_true", help="run one cycle, print the status and exit")
    judges.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    _add_store_flags(judges)
    judges.set_defaults(func=cmd_worker)
    actions = judges.add_subparsers(dest="judges_action")

    backfill = actions.add_parser("backfill", help="score history with one evaluator (estimate, confirm, run)")
    backfill.add_argument("--since", type=parse_when, required=True, help="ISO date/time or an age: 7d, 12h")
    backfill.add_argument("--until", type=parse_when, help="default: now")
    backfill.add_argument("--evaluator", required=True)
    backfill.add_argument("--rate", type=float, help="sample this fraction instead of the sampling rules' rates")
    backfill.add_argument("--yes", action="store_true", help="start without asking")
    backfill.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
    backfill.set_defaults(func=cmd_backfill)

    calib = actions.add_parser("calibration", help="how far each LLM judge agrees with human reviewers")
    calib.add_argument("--json", action="store_true")
    calib.add_argument("--confusion", action="store_true", help="print the confusion matrices")
    calib.add_argument("--fail-on-flag", action="store_true", help="exit 2 when a judge is flagged (for CI)")
    calib.set_defaults(func=cmd_calibration)

    status = actions.add_parser("status", help="the judge workers' lag, pending work and budgets")
    status.set_defaults(func=cmd_status)
    for p in (backfill, calib, status):
        _add_client_flags(p)
