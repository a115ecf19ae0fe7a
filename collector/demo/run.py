"""`loupe demo`: one command that starts everything a newcomer needs and fills it with history.

The collector runs as a `loupe serve` subprocess over the embedded store in the demo directory (chDB lets
one process open a data directory, and a separate process keeps ingestion off the demo's GIL); the
built-in model runs in this process, answering the demo app and the judges; the dashboard runs as
`loupe dashboard`. Subprocesses get their own session, so Ctrl-C reaches only this process, which
flushes the app's last spans before stopping them in order.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from collector.demo.scenario import PRIMARY

MARKER = "backfilled.json"  # written after a complete backfill: a restart goes straight to live traffic
STARTED = "backfill.started"


@dataclass
class DemoOptions:
    weeks: float = 4
    traces_per_day: float = 120
    live: bool = True
    port: int = 4318
    data_dir: str = ".loupe/demo"
    seed: int = 7
    dashboard_port: int = 8501
    dashboard: bool = True
    reset: bool = False
    sessions_per_minute: float = 12


def _say(message: str = "") -> None:
    print(message, file=sys.stderr, flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def admin_key(directory: Path) -> str:
    """The demo's admin key: made once, kept (0600) next to the data so a restart keeps working."""
    path = directory / "credentials"
    if path.exists():
        return path.read_text().strip()
    key = f"lp_demo_{secrets.token_urlsafe(24)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def write_config(directory: Path, opts: DemoOptions, model_url: str, judges: bool = True) -> Path:
    """loupe.yaml for the demo's collector: its store and WAL, retention that keeps the history, judges."""
    config: dict[str, Any] = {
        "dsn": f"chdb://{directory / 'data'}",
        "retention_days": max(30, int(opts.weeks * 7) + 7),
        "wal": {"dir": str(directory / "wal")},
        "public_url": f"http://127.0.0.1:{opts.dashboard_port}",
        "log_level": "warning",
        "grpc_port": 0,  # the demo app speaks OTLP/HTTP; one port less that another collector may hold
    }
    try:
        from judges.config import demo_config
    except ImportError:
        if judges:
            _say("  (judges: judges.config.demo_config is not available in this build; no online judging)")
    else:
        if judges:
            config["judges"] = demo_config(model_url, PRIMARY)
    path = directory / "loupe.yaml"
    path.write_text("# Written by `loupe demo` at each start.\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    out: IO[bytes] = open(log, "ab")  # noqa: SIM115 - the child keeps writing to it
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def start_collector(config: Path, port: int, key: str, directory: Path) -> subprocess.Popen:
    env = {**os.environ, "LOUPE_BOOTSTRAP_API_KEY": key, "LOUPE_JUDGE_API_KEY": "sk-demo"}
    proc = _spawn([sys.executable, "-m", "collector.cli", "serve", "--config", str(config), "--port", str(port)],
                  directory / "serve.log", env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (directory / "serve.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"loupe serve exited ({proc.returncode}); its log ({directory / 'serve.log'}):\n{tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"loupe serve did not become ready in 90 s; see {directory / 'serve.log'}")


def start_dashboard(url: str, key: str, port: int, directory: Path) -> subprocess.Popen | None:
    try:
        from dashboard.cli import dashboard_env, streamlit_command
    except ImportError:
        _say("  (dashboard: not available in this build; browse with the API at /docs)")
        return None
    if not _port_free(port):
        _say(f"  (dashboard: port {port} is taken; pass --dashboard-port)")
        return None
    env = dashboard_env(url, key, None, port, "127.0.0.1")
    return _spawn(streamlit_command(port, "127.0.0.1"), directory / "dashboard.log", env)


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def progress_bar(prefix: str, width: int = 32) -> Any:
    began = time.monotonic()
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.2:
            return
        last[0] = now
        filled = int(width * done / max(1, total))
        rate = done / max(1e-6, now - began)
        sys.stderr.write(f"\r{prefix} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} sessions "
                         f"({rate:.0f}/s)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def run(opts: DemoOptions) -> int:
    from collector.demo import brain
    from collector.demo.traffic import DemoTraffic
    from judges.local_model import LocalModel

    directory = Path(opts.data_dir).resolve()
    if opts.reset and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not _port_free(opts.port):
        raise SystemExit(f"port {opts.port} is in use (another `loupe serve`?): pass --port")
    key = admin_key(directory)
    # `kill`, `timeout` and service managers send SIGTERM: stop the collector and dashboard as Ctrl-C does,
    # instead of leaving them running.
    signal.signal(signal.SIGTERM, _interrupted)
    model = LocalModel(respond=brain.respond, judge=brain.judge)
    model_url = model.start()
    url = f"http://127.0.0.1:{opts.port}"
    serve = dashboard = None
    fresh = not (directory / MARKER).exists() and not (directory / STARTED).exists()
    try:
        _say(f"Starting the collector on {url} (store in {directory / 'data'}) …")
        # A fresh demo backfills with the judges off (they would compete for the CPU), then restarts the
        # collector with them on: they judge the history while the live traffic runs.
        serve = start_collector(write_config(directory, opts, model_url, judges=not fresh), opts.port, key, directory)
        with DemoTraffic(url, key, seed=opts.seed, model_url=model_url) as traffic:
            _backfill(traffic, directory, opts)
            if fresh:
                _say("Restarting the collector with the judges on …")
                stop(serve)
                serve = start_collector(write_config(directory, opts, model_url), opts.port, key, directory)
            dashboard = start_dashboard(url, key, opts.dashboard_port, directory) if opts.dashboard else None
            _banner(url, key, model_url, dashboard, opts, directory)
            if opts.live:
                _say("Live traffic: a new conversation every few seconds. Ctrl-C to stop.")
                traffic.live(threading.Event(), opts.sessions_per_minute)
            else:
                threading.Event().wait()
    except KeyboardInterrupt:
        _say("\nStopping …")
    finally:
        stop(dashboard)
        stop(serve)
        model.stop()
    return 0


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _backfill(traffic: Any, directory: Path, opts: DemoOptions) -> None:
    marker, started = directory / MARKER, directory / STARTED
    if marker.exists():
        done = json.loads(marker.read_text())
        _say(f"History already backfilled ({done['traces']} traces up to {done['end'][:16]}); "
             f"`loupe demo --reset` starts over.")
        return
    if started.exists():
        _say("An earlier backfill was interrupted, so the history is partial; `loupe demo --reset` starts over.")
        return
    started.touch()
    _say(f"Backfilling {opts.weeks:g} weeks of support-assistant traffic (~{opts.traces_per_day:g} traces/day) …")
    result = traffic.backfill(opts.weeks, opts.traces_per_day, progress=progress_bar("  "))
    _say(f"  {result.traces} traces ({result.spans_exported} spans, {result.feedback} feedback scores) in "
         f"{result.elapsed_s:.0f} s: {result.traces_per_s:.0f} traces/s")
    marker.write_text(json.dumps({"traces": result.traces, "start": result.start.isoformat(),
                                  "end": result.end.isoformat(), "seed": opts.seed}))


def _banner(url: str, key: str, model_url: str, dashboard: subprocess.Popen | None, opts: DemoOptions,
            directory: Path) -> None:
    lines = ["", "Loupe demo is up.",
             f"  Dashboard        {f'http://127.0.0.1:{opts.dashboard_port}' if dashboard else '(not running)'}",
             f"  Collector (OTLP) {url}/v1/traces", f"  API docs         {url}/docs",
             f"  Admin API key    {key}", f"  Built-in model   {model_url} (the app's and the judges')",
             f"  Logs and data    {directory}", "",
             "  Try:  LOUPE_URL=" + url + " LOUPE_API_KEY=<key> loupe keys list", ""]
    _say("\n".join(lines))
