"""`loupe` commands as a user runs them, and loupe.yaml with environment overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from collector.settings import load_settings
from tests.conftest import free_port


def loupe(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, cwd=cwd)


def test_keys_commands_against_a_running_server(server):
    env = {"LOUPE_URL": server.url, "LOUPE_API_KEY": server.admin_key}
    created = loupe("keys", "create", "--name", "ci-bot", "--scopes", "ingest,read", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("lp_")
    listed = loupe("keys", "list", env=env)
    assert "ci-bot" in listed.stdout and secret not in listed.stdout and "active" in listed.stdout
    key_id = next(line.split()[0] for line in listed.stdout.splitlines() if "ci-bot" in line)
    rotated = loupe("keys", "rotate", key_id, env=env)
    assert rotated.returncode == 0 and rotated.stdout.strip().splitlines()[-1].startswith("lp_")
    assert "revoked" in loupe("keys", "list", env=env).stdout
    # A non-admin key is refused with the server's reason; a missing key is explained.
    denied = loupe("keys", "list", env={"LOUPE_URL": server.url, "LOUPE_API_KEY": server.new_key("read")})
    assert denied.returncode != 0 and "admin" in denied.stderr
    missing = loupe("keys", "list", env={"LOUPE_URL": server.url, "LOUPE_API_KEY": ""}, cwd=Path("/"))
    assert missing.returncode != 0 and "LOUPE_API_KEY" in missing.stderr
    down = loupe("keys", "list", env={"LOUPE_URL": "http://127.0.0.1:9", "LOUPE_API_KEY": "x"})
    assert down.returncode != 0 and "cannot reach" in down.stderr


def test_first_start_creates_default_project_and_prints_admin_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LOUPE_BOOTSTRAP_API_KEY"}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    port = str(free_port())
    p = subprocess.Popen([sys.executable, "-m", "collector.cli", "serve", "--port", port, "--grpc-port", "0",
                          "--data-dir", str(fresh / "data")], cwd=fresh,
                         env={**env, "LOUPE_WAL__DIR": str(fresh / "wal")},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in p.stdout:  # bounded by the test timeout
            lines.append(line)
            if "lp_" in line:  # the key is printed once the store is open
                break
        output = "".join(lines)
        secret = next(w for w in output.split() if w.startswith("lp_"))
        saved = (fresh / "credentials").read_text().strip()
        assert saved == secret and oct((fresh / "credentials").stat().st_mode)[-3:] == "600"
        r = httpx.get(f"http://127.0.0.1:{port}/api/keys", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert r.status_code == 200 and r.json()["data"][0]["project"] == "default"
    finally:
        p.terminate()
        p.wait(20)


def test_settings_from_yaml_with_environment_and_flag_overrides(tmp_path, monkeypatch):
    config = tmp_path / "loupe.yaml"
    config.write_text("port: 5000\nretention_days: 14\nwal:\n  max_bytes: 1000000\n"
                      "projects:\n  shop:\n    retention_days: 7\n    price_overrides:\n"
                      "      - {model: 'my-llm*', input_per_mtok: 1.0, output_per_mtok: 2.0}\n")
    monkeypatch.setenv("LOUPE_RETENTION_DAYS", "21")
    settings = load_settings(config, port=6000)
    assert settings.port == 6000  # flag beats environment beats file
    assert settings.retention_days == 21
    assert settings.wal.max_bytes == 1_000_000
    assert settings.project("shop").retention_days == 7
    assert settings.project("other").retention_days is None
    config.write_text("prot: 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(config)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.yaml")
    monkeypatch.setenv("LOUPE_BOOTSTRAP_API_KEY", "short")
    with pytest.raises(ValueError, match="at least 20"):
        load_settings()


def test_migrate_status_and_print(tmp_path):
    dsn = f"chdb://{tmp_path / 'data'}"
    assert "pending" in loupe("migrate", "status", "--dsn", dsn).stdout
    applied = loupe("migrate", "apply", "--dsn", dsn)
    assert applied.returncode == 0 and "applied" in applied.stdout
    again = loupe("migrate", "apply", "--dsn", dsn)
    assert "applied 0 migration(s)" in again.stdout  # idempotent
    status = loupe("migrate", "status", "--dsn", dsn).stdout
    assert "pending" not in status and "0001_spans: applied" in status
    printed = loupe("migrate", "print", "--dsn", dsn).stdout
    assert "CREATE TABLE IF NOT EXISTS spans" in printed and "ENGINE = MergeTree" in printed
