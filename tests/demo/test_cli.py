"""`loupe demo` as a newcomer runs it: one command, then Ctrl-C; a second start skips the backfill (and
stops on SIGTERM as on Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(100)]


def start(directory: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "LOUPE_GRPC_PORT": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "demo", "--weeks", "0.15", "--traces-per-day", "40", "--seed", "5",
         "--no-dashboard", "--port", str(port), "--data-dir", str(directory), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def read_until(proc: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while marker not in seen:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {marker!r} in the demo's output:\n{seen}")
        seen += line
    return seen


def interrupt(proc: subprocess.Popen, sig: int = signal.SIGINT) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, out
    return out


def test_demo_backfills_serves_trickles_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path / "demo", port)
    out = read_until(proc, "Live traffic")
    key = (tmp_path / "demo" / "credentials").read_text().strip()
    assert f"Admin API key    {key}" in out and f"http://127.0.0.1:{port}/docs" in out
    assert "traces/s" in out and "Restarting the collector with the judges on" in out
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"})
    backfilled = api.get("/api/traces", params={"limit": 1}).json()["total"]
    assert backfilled > 10
    assert api.get("/api/judges/status").json()["enabled"] is True  # pointed at the built-in model
    deadline = time.monotonic() + 30
    while api.get("/api/traces", params={"limit": 1}).json()["total"] == backfilled:  # the live trickle
        assert time.monotonic() < deadline, "no live traffic after 30 s"
        time.sleep(1)
    assert "Stopping" in interrupt(proc)
    with pytest.raises(httpx.HTTPError):
        api.get("/healthz", timeout=2)  # the collector stopped with the demo

    again = start(tmp_path / "demo", port, "--no-live")
    out = read_until(again, "Loupe demo is up")
    assert "History already backfilled" in out and "Backfilling" not in out
    assert api.get("/api/traces", params={"limit": 1}).json()["total"] >= backfilled
    assert "Stopping" in interrupt(again, signal.SIGTERM)  # `kill`, `timeout`, a service manager
    with pytest.raises(httpx.HTTPError):
        api.get("/healthz", timeout=2)  # its collector did not outlive it
