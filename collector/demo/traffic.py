"""Runs the scenario through the demo app: a backfill of past weeks on the simulated clock, then live traffic.

`generate()` is the load source other code calls against any running collector. The app reaches the
collector only through the SDK (spans over OTLP, feedback through `loupe.feedback`), as a user's app does.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

import loupe
from collector.demo import brain
from collector.demo.app import SupportAssistant
from collector.demo.clock import METADATA_KEY, Clock, ShiftingExporter
from collector.demo.kb import KnowledgeBase, Orders
from collector.demo.provider import SimulatedProvider, World, weather
from collector.demo.scenario import PREMIUM, Interaction, Scenario

log = logging.getLogger(__name__)
SERVICE = "acme-support"
MAX_QUEUED = 20_000  # spans waiting in the SDK before the backfill pauses (the SDK drops past its queue)


@dataclass
class GenerateResult:
    start: datetime
    end: datetime
    sessions: int = 0
    traces: int = 0
    failed_requests: int = 0  # traces whose request failed (the app raised)
    feedback: int = 0
    spans_exported: int = 0
    spans_dropped: int = 0
    elapsed_s: float = 0.0
    prompt_versions: Counter[str] = field(default_factory=Counter)

    @property
    def traces_per_s(self) -> float:
        return self.traces / self.elapsed_s if self.elapsed_s else 0.0


class _Remote:
    """The help center and the order system are services: each call takes a little (simulated) time."""

    def __init__(self, target: Any, clock: Clock, seconds: tuple[float, float]) -> None:
        self._target, self._clock, self._seconds = target, clock, seconds
        self._rng = random.Random(len(seconds))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._clock.sleep(self._rng.uniform(*self._seconds))
            return method(*args, **kwargs)

        return call


class DemoTraffic:
    """The demo app wired to a collector: `with DemoTraffic(url, key) as d: d.backfill(…); d.live(…)`."""

    def __init__(self, endpoint: str, api_key: str, *, seed: int = 7, model_url: str | None = None,
                 environment: str = "production", workers: int = 2) -> None:
        self.endpoint, self.api_key, self.seed, self.workers = endpoint.rstrip("/"), api_key, seed, workers
        self.environment = environment
        self.model_url = model_url
        self.clock = Clock()
        self._model: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> DemoTraffic:
        if self.model_url is None:
            from judges.local_model import LocalModel

            self._model = LocalModel(respond=brain.respond, judge=brain.judge)
            self.model_url = self._model.start()
        exporter = OTLPSpanExporter(endpoint=f"{self.endpoint}/v1/traces", timeout=30,
                                    headers={"Authorization": f"Bearer {self.api_key}"})
        loupe.init(endpoint=self.endpoint, api_key=self.api_key, service=SERVICE, environment=self.environment,
                   release="2024.11.2", max_queue_size=MAX_QUEUED * 3, export_timeout=30,
                   exporter=ShiftingExporter(exporter, self.clock))
        loupe.instrument_openai()
        self._http = httpx.Client(transport=SimulatedProvider(self.clock), timeout=60)
        client = openai.OpenAI(base_url=self.model_url, api_key="sk-demo", max_retries=0, http_client=self._http)
        kb = _Remote(KnowledgeBase(), self.clock, (0.02, 0.09))
        orders = _Remote(Orders(today=self.clock.today), self.clock, (0.05, 0.3))
        self.app = SupportAssistant(client, kb, orders, fallback_model=PREMIUM)
        return self

    def __exit__(self, *exc: object) -> None:
        loupe.flush(timeout=60)
        loupe.uninstrument_openai()
        loupe.shutdown(timeout=30)
        self._http.close()
        if self._model is not None:
            self._model.stop()

    def backfill(self, weeks: float, traces_per_day: float, *, end: datetime | None = None,
                 progress: Callable[[int, int], None] | None = None) -> GenerateResult:
        end = end or datetime.now(UTC)
        scenario = Scenario(end - timedelta(days=7 * weeks), end, traces_per_day, self.seed)
        plan = scenario.plan()
        result = GenerateResult(scenario.start, end)
        began, before = time.monotonic(), loupe.stats()
        done = 0
        if self.workers <= 1:
            for it in plan:
                contextvars.Context().run(self.run_session, it, result)
                done += 1
                if progress:
                    progress(done, len(plan))
        else:
            pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="demo")
            try:
                futures = [pool.submit(contextvars.Context().run, self.run_session, it, result) for it in plan]
                for future in concurrent.futures.as_completed(futures):
                    future.result()
                    done += 1
                    if progress:
                        progress(done, len(plan))
            finally:  # on Ctrl-C, drop the sessions not started yet instead of running them all
                pool.shutdown(wait=True, cancel_futures=True)
        loupe.flush(timeout=120)
        after = loupe.stats()
        result.elapsed_s = time.monotonic() - began
        result.spans_exported = after.exported - before.exported
        result.spans_dropped = after.dropped - before.dropped
        return result

    def live(self, stop: threading.Event, sessions_per_minute: float = 12.0,
             on_trace: Callable[[GenerateResult], None] | None = None) -> GenerateResult:
        """Sessions in real time (real waits) until `stop` is set; the mix of the end of the backfill."""
        now = datetime.now(UTC)
        scenario = Scenario(now - timedelta(days=28), now, 150, self.seed + 1)
        rng = random.Random(self.seed + 2)
        result = GenerateResult(now, now)
        with concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="demo-live") as pool:
            while not stop.wait(rng.expovariate(sessions_per_minute / 60)):
                it = scenario.live_session(datetime.now(UTC), rng)
                it = Interaction(it.start, it.session_id, it.user, it.prompt_version, it.model, it.turns,
                                 tuple(g / 20 for g in it.gaps_s), it.conditions, it.seed)  # impatient users
                pool.submit(contextvars.Context().run, self._live_one, it, result, on_trace)
        return result

    def _live_one(self, it: Interaction, result: GenerateResult, on_trace: Callable[..., None] | None) -> None:
        try:
            self.run_session(it, result, live=True)
            if on_trace:
                on_trace(result)
        except Exception:  # a bug in the demo itself: say so, keep trickling
            log.exception("a live demo session failed")

    def run_session(self, it: Interaction, result: GenerateResult, live: bool = False) -> None:
        rng = random.Random(it.seed)
        history: list[dict[str, str]] = []
        at = it.start
        tags = [it.user.channel, it.user.plan]
        for i, turn in enumerate(it.turns):
            if i:
                at += timedelta(seconds=it.gaps_s[i - 1])
                if live:
                    time.sleep(it.gaps_s[i - 1])
            tl = self.clock.begin(None if live else at)
            meta = {METADATA_KEY: tl.id, "channel": it.user.channel, "plan": it.user.plan}
            ok = True
            with self.clock.use(tl), weather(World(it.conditions, rng)), \
                    loupe.context(session_id=it.session_id, user_id=it.user.id, tags=tags, metadata=meta):
                try:
                    reply = self.app.handle(turn.text, history, prompt_version=it.prompt_version, model=it.model,
                                            stream=it.stream)
                except Exception:  # what the web framework turns into a 500; the trace shows the error
                    ok = False
            with self._lock:
                result.traces += 1
                result.prompt_versions[it.prompt_version] += 1
                result.sessions += i == 0
                result.failed_requests += not ok
            if not ok:
                break
            at = tl.now()
            if reply.trace_id and rng.random() < 0.35:
                self._feedback(reply.trace_id, reply.text, turn.fact, turn.intent, it.user.id, rng, result)
            history += [{"role": "user", "content": turn.text}, {"role": "assistant", "content": reply.text}]
        if not live:
            while loupe.stats().queued > MAX_QUEUED:  # let the exporter catch up rather than drop spans
                time.sleep(0.05)

    def _feedback(self, trace_id: str, answer: str, fact: str | None, intent: str, user_id: str,
                  rng: random.Random, result: GenerateResult) -> None:
        """The simulated customer: happy when the answer says what they needed, sometimes says why."""
        lowered = answer.lower()
        if fact is not None:
            happy = fact.lower() in lowered
        elif intent == "kb":  # the help center cannot answer it: a hand-over is the best they can get
            happy = "human agent" in lowered and rng.random() < 0.6
        else:
            happy = not any(w in lowered for w in ("sorry", "depends", "could not"))
        if rng.random() < 0.1:
            happy = not happy  # people click the wrong thumb too
        comment = None
        if rng.random() < 0.3:
            comment = rng.choice(("quick and helpful", "thanks!", "perfect")) if happy else \
                rng.choice(("that's not what your website says", "did not answer my question", "useless"))
        if loupe.feedback(trace_id=trace_id, name="thumbs", value=1 if happy else 0, comment=comment,
                          user_id=user_id):
            with self._lock:
                result.feedback += 1


def generate(endpoint: str, api_key: str, weeks: float = 4, traces_per_day: float = 150, seed: int = 7, *,
             model_url: str | None = None, progress: Callable[[int, int], None] | None = None,
             workers: int = 2, end: datetime | None = None) -> GenerateResult:
    """Backfill `weeks` of demo traffic up to `end` (default now) into the collector at `endpoint` (a key with
    the `ingest` scope).

    Starts the built-in model unless `model_url` is given. Uses the process-wide SDK set-up: do not call it
    from a process that traces itself with `loupe.init()`.
    """
    with DemoTraffic(endpoint, api_key, seed=seed, model_url=model_url, workers=workers) as traffic:
        return traffic.backfill(weeks, traces_per_day, end=end, progress=progress)
