"""docker-compose.yml, the Dockerfile and deploy/loupe.yaml, checked without Docker (no engine here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from collector.cli import build_parser
from collector.settings import Settings, load_settings

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
LOUPE_SERVICES = {"collector", "judges", "alerts", "dashboard"}
# Variables read outside Settings: the CLI's server URL and key, the judges' endpoint key.
OTHER_ENV = {"LOUPE_URL", "LOUPE_API_KEY", "LOUPE_JUDGE_API_KEY"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_names(service: dict) -> set[str]:
    env = service.get("environment") or {}
    return set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}


def test_services_images_and_commands(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"clickhouse"} | LOUPE_SERVICES
    assert re.fullmatch(r"clickhouse/clickhouse-server:\d+\.\d+\.\d+\.\d+", services["clickhouse"]["image"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim-\w+$", dockerfile, re.M)
    assert 'ENTRYPOINT ["loupe"]' in dockerfile
    for package in ("store", "collector", "analytics", "judges", "dashboard", "sdk"):
        assert f"COPY {package} ./{package}" in dockerfile
    expected = {"collector": ["serve"], "judges": ["judges"], "alerts": ["alerts", "run"], "dashboard": ["dashboard"]}
    parser = build_parser()
    for name in LOUPE_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "loupe:0.1.0", name
        command = service["command"]
        assert command[:len(expected[name])] == expected[name], name
        parser.parse_args(command)  # every flag exists in the `loupe` CLI (SystemExit otherwise)
        assert service["restart"] == "unless-stopped"
    assert "--no-judges" in services["collector"]["command"]  # the judges service does the judging
    assert not any(":latest" in str(s.get("image", "")) for s in services.values())


def test_clickhouse_volume_password_and_healthcheck(compose: dict) -> None:
    ch = compose["services"]["clickhouse"]
    assert "clickhouse-data:/var/lib/clickhouse" in ch["volumes"]
    assert "clickhouse-data" in compose["volumes"]
    password = ch["environment"]["CLICKHOUSE_PASSWORD"]
    assert password.startswith("${CLICKHOUSE_PASSWORD:?")  # required: compose refuses to start without one
    assert ch["environment"]["CLICKHOUSE_USER"] != "default"
    assert "8123/ping" in " ".join(ch["healthcheck"]["test"])
    assert all(p.startswith("127.0.0.1:") for p in ch.get("ports", []))  # not exposed beyond the host


def test_loupe_services_environment_volumes_and_dependencies(compose: dict) -> None:
    services = compose["services"]
    collector = services["collector"]
    env = collector["environment"]
    assert env["LOUPE_DSN"].startswith("http://loupe:${CLICKHOUSE_PASSWORD") and env["LOUPE_DSN"].endswith(
        "@clickhouse:8123/loupe")
    assert env["LOUPE_BOOTSTRAP_API_KEY"].startswith("${LOUPE_BOOTSTRAP_API_KEY:?")
    wal_volume = next(v for v in collector["volumes"] if v.startswith("collector-wal:"))
    assert env["LOUPE_WAL__DIR"].startswith(wal_volume.split(":")[1])  # the WAL lives on the volume
    assert {"4318:4318", "4317:4317"} <= set(collector["ports"])
    assert collector["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    for name in ("judges", "alerts", "dashboard"):
        assert services[name]["depends_on"]["collector"]["condition"] == "service_healthy", name
    for name in ("judges", "alerts"):
        assert services[name]["environment"]["LOUPE_DSN"] == env["LOUPE_DSN"], name
    assert services["dashboard"]["environment"]["LOUPE_URL"] == "http://collector:4318"
    assert "LOUPE_DSN" not in services["dashboard"]["environment"]  # the dashboard never opens the database
    for name in ("clickhouse", "collector", "judges", "dashboard"):
        check = services[name]["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 3, name
    for name in LOUPE_SERVICES:  # loupe.yaml is mounted read-only everywhere
        assert "./deploy/loupe.yaml:/etc/loupe/loupe.yaml:ro" in services[name]["volumes"], name
    # Every LOUPE_* variable is a real setting (nested with __) or one of the few read elsewhere.
    fields = Settings.model_fields
    for name in LOUPE_SERVICES:
        for var in _env_names(services[name]):
            if var in OTHER_ENV:
                continue
            top, *rest = var.removeprefix("LOUPE_").lower().split("__")
            assert top in fields, f"{name}: {var} is not a setting"
            if rest:
                assert rest[0] in fields[top].annotation.model_fields, f"{name}: {var}"


def test_mounted_config_is_valid(monkeypatch) -> None:
    from analytics.alerts.config import load_alerts
    from judges.config import parse_judges
    from judges.registry import build_evaluators

    for var in ("LOUPE_RETENTION_DAYS", "LOUPE_DSN", "LOUPE_BOOTSTRAP_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(ROOT / "deploy" / "loupe.yaml")
    assert settings.content_retention_days < settings.retention_days
    assert set(build_evaluators(parse_judges(settings.judges))) >= {"refusal"}
    assert load_alerts(settings.alerts).rules
