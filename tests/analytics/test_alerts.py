"""Alert rules firing and resolving against a real local webhook receiver and a local SMTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from analytics.alerts.config import load_alerts
from analytics.alerts.scheduler import Scheduler
from collector.cli import main as loupe
from tests.analytics.conftest import PUBLIC_URL, hour_now
from tests.analytics.receivers import SMTPServer, Webhook
from tests.analytics.synth import Mix, make_traffic
from tests.conftest import ADMIN_KEY, make_settings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def receivers() -> Iterator[tuple[Webhook, SMTPServer]]:
    hook, smtp = Webhook(), SMTPServer()
    yield hook, smtp
    hook.close()
    smtp.close()


def _config(hook: Webhook, smtp: SMTPServer, *rules: dict, enabled: bool = False, interval_s: float = 3600) -> dict:
    errors = {"name": "errors", "kind": "threshold", "metric": "error_rate", "op": ">", "value": 0.2, "window": "1h",
              "every": "1h", "channels": ["hook", "slack", "mail"], "cooldown": "6h", "min_samples": 10}
    return {"enabled": enabled, "interval_s": interval_s, "rules": list(rules) or [errors], "channels": {
        "hook": {"type": "webhook", "url": f"{hook.url}/hook", "headers": {"X-Token": "t"}},
        "slack": {"type": "slack", "url": f"{hook.url}/slack"},
        "mail": {"type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "from": "loupe@test",
                 "to": ["oncall@test"]}}}


def _hour(store, start: datetime, errors: float, seed: int, n: int = 60) -> None:
    make_traffic(store, "default", start, start + timedelta(hours=1), n, Mix(errors=errors), seed=seed)


def test_fires_once_resolves_and_holds_back_a_flap_within_the_cooldown(store, tmp_path, receivers) -> None:
    hook, smtp = receivers
    settings = make_settings(tmp_path, public_url=PUBLIC_URL, alerts=_config(hook, smtp))
    base = hour_now() - timedelta(hours=10)
    for i, errors in enumerate((0.5, 0.5, 0.0, 0.5, 0.0)):
        _hour(store, base + timedelta(hours=i), errors, seed=60 + i)
    scheduler = Scheduler(store, settings)
    at = lambda i: base + timedelta(hours=i + 1, minutes=1)  # noqa: E731 - just after window i closed

    fired = scheduler.tick(at(0))
    assert [(e.kind, e.delivery) for e in fired] == [("firing", "sent")]
    assert scheduler.tick(at(0)) == []  # the same window is not evaluated twice
    assert Scheduler(store, settings).tick(at(0) + timedelta(minutes=1)) == []  # a restart does not resend
    assert scheduler.tick(at(1)) == []  # still firing: nothing new
    resolved = scheduler.tick(at(2))
    assert [(e.kind, e.delivery) for e in resolved] == [("resolved", "sent")]
    flap = scheduler.tick(at(3))
    assert [(e.kind, e.delivery) for e in flap] == [("firing", "cooldown")]
    quiet = scheduler.tick(at(4))
    assert [e.kind for e in quiet] == ["resolved"] and quiet[0].delivery.startswith("skipped")

    hooks, slacks = hook.bodies("/hook"), hook.bodies("/slack")
    assert [b["kind"] for b in hooks] == ["firing", "resolved"] and len(slacks) == 2
    first = hooks[0]
    assert first["rule"] == "errors" and first["value"] > 0.2 and first["threshold"] == 0.2
    assert first["link"].startswith(PUBLIC_URL) and "start=" in first["link"]
    assert first["event_id"] != hooks[1]["event_id"]
    assert "FIRING" in slacks[0]["text"] and PUBLIC_URL in slacks[0]["text"]
    assert [m["Subject"] for m in smtp.messages] == ["[Loupe] [FIRING] default/errors: " + first["title"],
                                                     "[Loupe] [RESOLVED] default/errors: " + hooks[1]["title"]]
    assert PUBLIC_URL in smtp.messages[0].get_payload()


def test_silence_and_test_through_the_cli_and_api(serve_with, store, receivers, capsys) -> None:
    hook, smtp = receivers
    server = serve_with(alerts=_config(hook, smtp))
    cli = ["--url", server.url, "--api-key", ADMIN_KEY]
    # From the start of the last full hour until now: both the test's window (the last 60 minutes) and the
    # scheduler's aligned one (the last full hour) hold plenty of it, whatever the minute.
    make_traffic(store, "default", hour_now() - timedelta(hours=1), datetime.now(UTC), 120, Mix(errors=0.6), seed=70)

    assert loupe(["alerts", "test", "errors", "--dry-run", *cli]) == 0
    assert "firing" in capsys.readouterr().out and hook.received == []
    assert loupe(["alerts", "test", "errors", *cli]) == 0
    assert [b["kind"] for b in hook.bodies("/hook")] == ["test"] and len(smtp.messages) == 1
    with pytest.raises(SystemExit, match="404"):
        loupe(["alerts", "test", "no-such-rule", *cli])

    reader = server.new_key("read")
    with server.client(reader) as c:
        assert c.post("/api/alerts/silences", json={"rule": "errors", "duration": "1h"}).status_code == 403
        assert c.post("/api/alerts/rules/errors/test", json={}).status_code == 403
    assert loupe(["alerts", "silence", "errors", "--for", "2h", "--reason", "deploy", *cli]) == 0
    with server.client(reader) as c:
        silences = c.get("/api/alerts/silences").json()["data"]
    assert [(s["rule"], s["reason"]) for s in silences] == [("errors", "deploy")]

    events = Scheduler(store, server.state.settings).tick(datetime.now(UTC))
    assert len(events) == 1 and events[0].delivery.startswith("silenced until")
    assert len(hook.bodies("/hook")) == 1  # only the test notice
    with server.client() as c:
        rules = c.get("/api/alerts/rules").json()["data"]
        history = c.get("/api/alerts/events", params={"rule": "errors"}).json()["data"]
    assert rules[0]["state"] == "firing" and rules[0]["silenced_until"]
    assert {e["kind"] for e in history} == {"firing", "test"}

    assert loupe(["alerts", "unsilence", silences[0]["silence_id"], *cli]) == 0
    with server.client() as c:
        assert c.get("/api/alerts/silences").json()["data"] == []
    assert loupe(["alerts", "list", *cli]) == 0 and "errors" in capsys.readouterr().out


def test_a_failed_delivery_is_retried_on_the_next_tick(store, tmp_path, receivers) -> None:
    hook, smtp = receivers
    settings = make_settings(tmp_path, public_url=PUBLIC_URL, alerts=_config(hook, smtp))
    base = hour_now() - timedelta(hours=5)
    for i in range(2):
        _hour(store, base + timedelta(hours=i), 0.5, seed=80 + i)
    scheduler = Scheduler(store, settings)
    hook.fail = 3  # every attempt of the first send to /hook answers 500
    first = scheduler.tick(base + timedelta(hours=1, minutes=1))
    assert first[0].delivery.startswith("failed[hook]") and len(hook.bodies("/slack")) == 1
    scheduler.tick(base + timedelta(hours=2, minutes=1))
    assert [b["kind"] for b in hook.bodies("/hook")] == ["firing"]
    assert len(hook.bodies("/slack")) == 1 and len(smtp.messages) == 1  # the others are not sent twice


def test_no_data_score_regression_and_drift_rules(store, tmp_path, receivers) -> None:
    hook, smtp = receivers
    end = hour_now()
    make_traffic(store, "default", end - timedelta(days=2), end - timedelta(days=1), 200,
                 Mix(graded={"groundedness": (1, 2, 7)}), seed=90)
    make_traffic(store, "default", end - timedelta(days=1), end, 200,
                 Mix(graded={"groundedness": (4, 2, 4)}, topics={"plus": 1.0}), seed=91)
    day = {"window": "1d", "every": "1h", "channels": ["hook"]}
    cfg = _config(hook, smtp,
                  {"name": "ghost", "kind": "no_data", "segment": {"service": "ghost"}, **day},
                  {"name": "grounded", "kind": "threshold", "metric": "score:groundedness", "op": "<", "value": 0.7,
                   **day},
                  {"name": "grounded-drop", "kind": "change", "metric": "grounded_answer_quality", "op": "<",
                   "value": -0.2, **day},
                  {"name": "week-regression", "kind": "regression", **day},
                  {"name": "topics", "kind": "drift", "value": 0.2, **day},
                  {"name": "volume", "kind": "threshold", "metric": "requests", "op": "<", "value": 10, **day})
    scheduler = Scheduler(store, make_settings(tmp_path, public_url=PUBLIC_URL, alerts=cfg))
    fired = {e.rule: e for e in scheduler.tick(end + timedelta(minutes=1))}
    assert set(fired) == {"ghost", "grounded", "grounded-drop", "week-regression", "topics"}
    assert "groundedness" in fired["week-regression"].message
    assert fired["topics"].link.startswith(f"{PUBLIC_URL}/drift?") and fired["topics"].value > 0.2
    assert fired["grounded"].link.startswith(f"{PUBLIC_URL}/quality?")
    assert {b["rule"] for b in hook.bodies("/hook")} == set(fired)


def test_the_scheduler_runs_inside_serve(serve_with, receivers) -> None:
    hook, smtp = receivers
    rule = {"name": "ghost", "kind": "no_data", "window": "1h", "segment": {"service": "ghost"}, "channels": ["hook"]}
    serve_with(alerts=_config(hook, smtp, rule, enabled=True, interval_s=1))
    deadline = time.monotonic() + 30
    while not hook.bodies("/hook") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [b["rule"] for b in hook.bodies("/hook")] == ["ghost"]


def test_the_configuration_is_validated() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        load_alerts({"rules": [{"name": "a", "kind": "no_data", "channels": ["nowhere"]}]})
    with pytest.raises(ValueError, match="metric must be one of"):
        load_alerts({"rules": [{"name": "a", "kind": "threshold", "metric": "vibes", "value": 1}]})
    with pytest.raises(ValueError, match="invalid duration"):
        load_alerts({"rules": [{"name": "a", "kind": "no_data", "window": "soon"}]})
    with pytest.raises(ValueError, match="needs a url"):
        load_alerts({"channels": {"x": {"type": "slack"}}})
    assert load_alerts({"rules": [{"name": "d", "kind": "drift"}]}).rules[0].value == 0.1


def test_the_weekly_report_is_sent_once_on_schedule(store, tmp_path, receivers) -> None:
    hook, smtp = receivers
    cfg = _config(hook, smtp, {"name": "ghost", "kind": "no_data", "window": "1h", "channels": []})
    cfg["reports"] = [{"project": "default", "channels": ["hook", "mail"], "weekday": 0, "hour": 0}]
    scheduler = Scheduler(store, make_settings(tmp_path, public_url=PUBLIC_URL, alerts=cfg))
    now = datetime.now(UTC)
    sent = [e for e in scheduler.tick(now) if e.kind == "report"]  # an empty project still gets its report
    assert len(sent) == 1 and sent[0].delivery == "sent"
    body = hook.bodies("/hook")[0]
    assert body["kind"] == "report" and body["attachment"]["filename"].endswith(".html")
    assert "<svg" in body["attachment"]["content"] and "No human scores yet." in body["message"]
    assert smtp.messages[0].is_multipart()
    assert not [e for e in scheduler.tick(now + timedelta(minutes=5)) if e.kind == "report"]  # once a week
