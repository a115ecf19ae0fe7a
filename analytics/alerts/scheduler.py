"""The alert scheduler: evaluates every rule on its schedule, sends firing and resolve notices, keeps history.

Windows are aligned to the rule's period (`every`; default the scheduler interval, 15 minutes for drift
and regression rules, which cost seconds): the window ending at 10:15 is the same window for every
process that evaluates it. A notice's id is derived from (project, rule, transition, window end); it is
written (pending) before it is sent and rewritten with the outcome, so a restarted scheduler, or a cron
run of `loupe alerts run --once`, finds it and never sends twice. The rule's state (firing or ok) is its
last firing/resolved notice in the table, so it survives restarts too.

Dedup: a rule that keeps firing sends one notice; a resolve notice follows only a sent firing notice; a
rule that fires again within `cooldown` of its last sent firing notice is recorded but not sent
(flapping). A silenced rule is evaluated and recorded, never sent. Against a ClickHouse server several
collectors may run: a lease (store/leases.py) lets exactly one of them evaluate.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.alerts import channels as ch
from analytics.alerts import history as h
from analytics.alerts.config import AlertsConfig, RuleConfig, load_alerts, parse_duration
from analytics.alerts.evaluate import Evaluation, evaluate
from analytics.window import Window

log = logging.getLogger(__name__)
HEAVY_EVERY = timedelta(minutes=15)
MAX_ATTEMPTS = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def aligned_end(now: datetime, every: timedelta) -> datetime:
    return _EPOCH + every * ((now - _EPOCH) // every)


class Scheduler:
    def __init__(self, store: Any, settings: Any, config: AlertsConfig | None = None, lease: Any = None) -> None:
        self.store, self.settings = store, settings
        self.cfg = config or load_alerts(settings.alerts)
        self.public_url = settings.public_url
        self.lease = lease  # a store.leases.LeaseKeeper, or None when this process owns the store
        self._last: dict[tuple[str, str], datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    # --- one pass ---------------------------------------------------------------------------------------

    def every(self, rule: RuleConfig) -> timedelta:
        if rule.every:
            return parse_duration(rule.every)
        base = timedelta(seconds=self.cfg.interval_s)
        return max(base, HEAVY_EVERY) if rule.kind in ("drift", "regression") else base

    def tick(self, now: datetime | None = None, force: bool = False,
             projects: set[str] | None = None) -> list[h.AlertEvent]:
        """Evaluate the rules that are due (all of them with `force`); return the notices recorded."""
        now = now or datetime.now(UTC)
        out: list[h.AlertEvent] = []
        states = h.rule_states(self.store)
        for rule in self.cfg.rules:
            if projects is not None and rule.project not in projects:
                continue
            end = aligned_end(now, self.every(rule))
            key = (rule.project, rule.name)
            if not force and self._last.get(key) == end:
                continue
            self._last[key] = end
            try:
                evaluation = evaluate(rule, Window(end - rule.window_td, end), self.store, self.public_url,
                                      self.cfg.drift)
                event = self._step(rule, evaluation, states.get(key), now)
            except Exception:  # one broken rule must not stop the others
                log.exception("alert rule %s/%s failed", rule.project, rule.name)
                continue
            if event is not None:
                out.append(event)
        for schedule in self.cfg.reports if projects is None else []:
            try:
                from analytics.report.schedule import send_due_report

                event = send_due_report(self, schedule, now)
            except Exception:
                log.exception("scheduled report for %s failed", schedule.project)
                continue
            if event is not None:
                out.append(event)
        self.ticks += 1
        return out

    def _step(self, rule: RuleConfig, ev: Evaluation, state: dict[str, Any] | None,
              now: datetime) -> h.AlertEvent | None:
        if state is not None and (state["delivery"] == "pending" or (
                state["delivery"].startswith("failed") and state["attempts"] < MAX_ATTEMPTS)):
            state["delivery"] = self._retry(rule, state)
        firing_now = state is not None and state["kind"] == "firing"
        if ev.status == "firing" and not firing_now:
            return self._record(rule, "firing", ev, now, state)
        if ev.status == "ok" and firing_now:
            return self._record(rule, "resolved", ev, now, state)
        return None

    def _record(self, rule: RuleConfig, kind: str, ev: Evaluation, now: datetime,
                state: dict[str, Any] | None) -> h.AlertEvent | None:
        ident = h.event_id(rule.project, rule.name, kind, ev.window.end)
        if h.get_event(self.store, rule.project, ident) is not None:
            return None  # this window's notice exists: recorded (and sent, or being retried) before a restart
        event = h.AlertEvent(
            rule.project, ident, rule.name, kind, "firing" if kind == "firing" else "ok", rule.severity,
            ev.window.start, ev.window.end, ev.value, ev.threshold, ev.title, ev.message, ev.link,
            list(rule.channels), details={**ev.details, "n": ev.n, "kind": rule.kind, "metric": rule.metric,
                                          "segment": rule.segment})
        silenced = h.silenced_until(self.store, rule.project, rule.name, now)
        if silenced:
            event.delivery = f"silenced until {silenced.isoformat()}"
        elif kind == "firing" and self._in_cooldown(rule, now):
            event.delivery = "cooldown"
        elif kind == "resolved" and (state is None or state["delivery"] != "sent"):
            event.delivery = "skipped: its firing notice was not sent"
        h.save_event(self.store, event)  # claimed before sending: a crash now means a retry, not a duplicate
        if event.delivery == "pending":
            self._send(rule, event, list(rule.channels))
        return event

    def _in_cooldown(self, rule: RuleConfig, now: datetime) -> bool:
        for past in h.list_events(self.store, rule.project, rule.name, ["firing"], limit=20):
            if past["delivery"] == "sent":
                return now - h.utc(past["created_at"]) < rule.cooldown_td
        return False

    def _send(self, rule: RuleConfig, event: h.AlertEvent, names: list[str]) -> None:
        event.attempts += 1
        outcome = ch.deliver(self.cfg.channels, names, event)
        event.delivery = outcome
        h.save_event(self.store, event)

    def _retry(self, rule: RuleConfig, state: dict[str, Any]) -> str:
        """Send a recorded notice again to the channels that have not taken it; the new delivery summary."""
        event = h.AlertEvent(**{k: state[k] for k in h.EVENT_COLUMNS})
        event.window_start, event.window_end = (t.replace(tzinfo=UTC) for t in (state["window_start"],
                                                                                 state["window_end"]))
        names = ch.owed(state["delivery"], list(state["channels"]))
        if names:
            self._send(rule, event, names)
        return event.delivery

    # --- test ---------------------------------------------------------------------------------------------

    def test_rule(self, project: str, name: str, dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
        """Evaluate one rule over the window ending now and send a TEST notice (whatever its state)."""
        rule = self.cfg.rule(project, name)
        if rule is None:
            raise KeyError(f"no alert rule {name!r} in project {project!r}")
        now = now or datetime.now(UTC)
        ev = evaluate(rule, Window(now - rule.window_td, now), self.store, self.public_url, self.cfg.drift)
        event = h.AlertEvent(project, f"test-{uuid.uuid4().hex[:16]}", name, "test", ev.status, rule.severity,
                             ev.window.start, ev.window.end, ev.value, ev.threshold, f"[test] {ev.title}", ev.message,
                             ev.link, list(rule.channels), details={**ev.details, "n": ev.n, "evaluated": ev.status})
        if dry_run:
            event.delivery = "dry-run"
        else:
            event.attempts = 1
            event.delivery = ch.deliver(self.cfg.channels, list(rule.channels), event)
        h.save_event(self.store, event)
        return {"rule": name, "status": ev.status, "value": ev.value, "threshold": ev.threshold, "n": ev.n,
                "title": ev.title, "message": ev.message, "link": ev.link, "window": {"start": ev.window.start,
                "end": ev.window.end}, "channels": list(rule.channels), "delivery": event.delivery,
                "event_id": event.event_id, "payload": ch.payload(event)}

    # --- the loop -------------------------------------------------------------------------------------------

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._run, name="alert-scheduler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.lease is None or self.lease.held:
                try:
                    self.tick()
                except Exception:  # the store may be away for a while; try again next interval
                    log.exception("alert scheduler tick failed")
            self._stop.wait(self.cfg.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        if self.lease is not None:
            self.lease.stop(release=True)


def start_scheduler(store: Any, settings: Any) -> Scheduler | None:
    """The scheduler inside `loupe serve` (None when nothing is configured or `alerts.enabled` is false)."""
    cfg = load_alerts(settings.alerts)
    if not cfg.enabled or not (cfg.rules or cfg.reports):
        return None
    lease = None
    if not getattr(store, "embedded", True):  # several collectors may share a server: one evaluates
        from store.leases import Lease, LeaseKeeper

        cluster = getattr(settings, "cluster", None)
        lease = LeaseKeeper(Lease(store, "alert-scheduler", ttl_s=60, cluster=cluster)).start()
    log.info("alert scheduler: %d rule(s), %d report schedule(s)", len(cfg.rules), len(cfg.reports))
    return Scheduler(store, settings, cfg, lease).start()
