"""`loupe demo` on the command line; `add_parser` is registered by `collector/cli.py`."""

from __future__ import annotations

import argparse

from collector.demo.run import DemoOptions


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        import openai  # noqa: F401

        import loupe  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"`loupe demo` is an app built on the SDK and the openai client ({exc.name} is missing): "
                         "pip install -e './sdk[openai]'") from None
    from collector.demo.run import run

    opts = DemoOptions(weeks=args.weeks, traces_per_day=args.traces_per_day, live=not args.no_live, port=args.port,
                       data_dir=args.data_dir, seed=args.seed, dashboard_port=args.dashboard_port,
                       dashboard=not args.no_dashboard, reset=args.reset)
    return run(opts)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    d = DemoOptions()
    p = subparsers.add_parser(
        "demo", help="start a collector, the built-in model and the dashboard, backfill weeks of demo traffic, "
                     "then keep a live trickle going",
        description="A support assistant built on the loupe SDK talks to Loupe's built-in model: several weeks of "
                    "history (a prompt version that gets worse, topic drift, incidents), then live traffic.")
    p.add_argument("--weeks", type=float, default=d.weeks, help=f"history to backfill (default {d.weeks:g})")
    p.add_argument("--traces-per-day", type=float, default=d.traces_per_day,
                   help=f"average backfill volume (default {d.traces_per_day:g})")
    p.add_argument("--no-live", action="store_true", help="no live traffic after the backfill (still serves)")
    p.add_argument("--port", type=int, default=d.port, help=f"collector port (default {d.port})")
    p.add_argument("--data-dir", default=d.data_dir, help=f"store, WAL, logs and key (default {d.data_dir})")
    p.add_argument("--seed", type=int, default=d.seed, help="the same seed plans the same traffic")
    p.add_argument("--dashboard-port", type=int, default=d.dashboard_port)
    p.add_argument("--no-dashboard", action="store_true")
    p.add_argument("--reset", action="store_true", help="delete the demo directory first")
    p.set_defaults(func=cmd_demo)
    return p
