"""`loupe dashboard`: run the Streamlit dashboard headless against a Loupe server.

The key given with --key (or LOUPE_API_KEY) only pre-fills the sign-in form, through the child's
environment: it never appears on a command line, where other users of the machine could read it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "streamlit_app.py"


def streamlit_command(port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
            "--server.port", str(port), "--server.address", address, "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"]


def dashboard_env(url: str, key: str | None, public_url: str | None, port: int, address: str) -> dict[str, str]:
    env = {**os.environ, "LOUPE_URL": url,
           "LOUPE_PUBLIC_URL": public_url or os.environ.get("LOUPE_PUBLIC_URL") or f"http://{address}:{port}"}
    if key:
        env["LOUPE_DASHBOARD_KEY"] = key
    return env


def cmd_dashboard(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("LOUPE_URL") or "http://127.0.0.1:4318"
    key = args.key or os.environ.get("LOUPE_API_KEY")
    env = dashboard_env(url, key, args.public_url, args.port, args.address)
    print(f"Loupe dashboard on {env['LOUPE_PUBLIC_URL']} (reading {url})", file=sys.stderr, flush=True)
    # Become Streamlit (exec, not a child): signals from a supervisor or a test reach the server itself,
    # so stopping `loupe dashboard` never leaves an orphaned Streamlit behind.
    command = streamlit_command(args.port, args.address)
    os.execve(command[0], command, env)
    return 0  # not reached


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("dashboard", help="run the web dashboard (Streamlit, headless)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1", help="interface to listen on")
    p.add_argument("--url", help="Loupe server URL (env LOUPE_URL, default http://127.0.0.1:4318)")
    p.add_argument("--key", help="pre-fill the sign-in form with this API key (env LOUPE_API_KEY)")
    p.add_argument("--public-url", help="the dashboard's public base URL for links (env LOUPE_PUBLIC_URL)")
    p.set_defaults(func=cmd_dashboard)
    return p
