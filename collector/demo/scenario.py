"""The demo's traffic model: who asks what, when, with which prompt version and model, and what goes wrong.

The story over the window (fractions of it, so a two-day test window tells the same story as four weeks):
- prompt `support-answer` v1 (context, no citations) until 35 %; v2 (context, citations, "say when the
  help center does not cover it", injection guard) from 35 %; v3 ("brief and confident", drops the
  retrieved context to save tokens) as a 25 % canary from 70 % and on 60 % of sessions from 78 %. v3 is
  cheaper and really worse: its answers are not grounded, and it follows injected instructions.
- topic drift in the last week (at most the last quarter): the new Plus membership, which the help center
  barely covers, and shipping to countries the shop does not serve.
- incidents: a provider outage (errors on gpt-4o-mini, the app falls back to gpt-4o) at 45 %, an attack
  burst of prompt injections from one user at 60 %, a latency degradation at 85 %.
- all along: PII in questions, occasional injections and abuse, slow calls, provider errors.
Pure planning: a seeded `random.Random`, no I/O, so a seed gives the same plan every time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.demo import questions as qs
from collector.demo.questions import Turn

MODELS = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06")  # pinned snapshots, priced by the price table
PRIMARY, PREMIUM = MODELS
TURNS_MEAN = 1.5  # traces per session: 1 (60 %), 2 (30 %), 3 (10 %)
_DIURNAL = [0.3, 0.2, 0.15, 0.15, 0.2, 0.35, 0.6, 0.9, 1.2, 1.4, 1.5, 1.5,
            1.45, 1.5, 1.6, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 0.9, 0.7, 0.45]  # UTC hour weights
_DIURNAL_MEAN = sum(_DIURNAL) / 24


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    phone: str
    plan: str  # free | pro
    channel: str  # web (streams) | mobile | email


@dataclass(frozen=True)
class Conditions:
    """The model provider's weather for one session."""

    error_rate: float = 0.01  # 5xx/429 per model call
    outage_model: str | None = None  # this model fails `outage_rate` of calls
    outage_rate: float = 0.0
    slow_factor: float = 1.0  # multiplies model latency
    timeout_s: float = 20.0


@dataclass(frozen=True)
class Interaction:
    """One session: a user's conversation of one to three turns, each its own trace."""

    start: datetime
    session_id: str
    user: User
    prompt_version: str
    model: str
    turns: tuple[Turn, ...]
    gaps_s: tuple[float, ...]  # the user's think time before each later turn
    conditions: Conditions
    seed: int

    @property
    def stream(self) -> bool:
        return self.user.channel == "web"


class Scenario:
    def __init__(self, start: datetime, end: datetime, traces_per_day: float, seed: int = 7) -> None:
        if end <= start:
            raise ValueError("the window must end after it starts")
        self.start, self.end, self.traces_per_day, self.seed = start, end, traces_per_day, seed
        self.span = (end - start).total_seconds()
        days = self.span / 86400
        self.drift_start = end - min(timedelta(days=7), (end - start) * 0.25)
        self.outage = self._window(0.45, hours=3)
        self.attack = self._window(0.60, hours=2)
        self.slowdown = self._window(0.85, hours=6)
        rng = random.Random(seed)
        self.users = [_user(rng, i) for i in range(max(12, int(traces_per_day * days / TURNS_MEAN / 4)))]
        self._weights = [1 / (i + 1) ** 0.7 for i in range(len(self.users))]  # a few regulars, a long tail
        self.attacker = User("u-6666", "Mallory", "mallory@proton.me", "+1 555 0100", "free", "web")

    def _window(self, at: float, hours: float) -> tuple[datetime, datetime]:
        begin = self.start + timedelta(seconds=self.span * at)
        return begin, min(self.end, begin + timedelta(hours=hours))

    def fraction(self, t: datetime) -> float:
        return min(1.0, max(0.0, (t - self.start).total_seconds() / self.span))

    def prompt_version(self, t: datetime, rng: random.Random) -> str:
        f = self.fraction(t)
        if f < 0.35:
            return "1"
        share_v3 = 0.0 if f < 0.70 else 0.25 if f < 0.78 else 0.6
        return "3" if rng.random() < share_v3 else "2"

    def conditions(self, t: datetime) -> Conditions:
        c = Conditions()
        if self.outage[0] <= t < self.outage[1]:
            c = Conditions(outage_model=PRIMARY, outage_rate=0.4)
        if self.slowdown[0] <= t < self.slowdown[1]:
            c = Conditions(c.error_rate, c.outage_model, c.outage_rate, slow_factor=3.5)
        return c

    def plan(self) -> list[Interaction]:
        """Every session of the window, in time order."""
        rng = random.Random(self.seed * 7919 + 1)
        out: list[Interaction] = []
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        while hour < self.end:
            f = self.fraction(hour)
            weekday = 0.78 if hour.weekday() >= 5 else 1.09  # ~1.0 over a week
            rate = self.traces_per_day / TURNS_MEAN / 24 * _DIURNAL[hour.hour] / _DIURNAL_MEAN
            for _ in range(_poisson(rng, rate * weekday * (0.9 + 0.2 * f))):  # traffic grows a little
                t = hour + timedelta(seconds=rng.uniform(0, 3600))
                if self.start <= t < self.end - timedelta(minutes=10):
                    out.append(self.session(t, rng))
            hour += timedelta(hours=1)
        out += self._attack_burst(rng)
        out.sort(key=lambda i: i.start)
        return out

    def session(self, t: datetime, rng: random.Random, user: User | None = None) -> Interaction:
        user = user or rng.choices(self.users, self._weights)[0]
        n = 1 if rng.random() < 0.6 else 2 if rng.random() < 0.75 else 3
        turns = [self._first_turn(t, rng, user)]
        for _ in range(n - 1):
            if "injection" in turns[0].flags:
                break
            pool = qs.FOLLOW_UPS if rng.random() < 0.6 else qs.CATALOG
            follow = qs.realise(rng.choice(pool), rng, frozenset({"followup"}))
            turns.append(follow)
        version = self.prompt_version(t, rng)
        model = PREMIUM if user.plan == "pro" else PRIMARY
        gaps = tuple(rng.uniform(15, 240) for _ in turns[1:])
        sid = f"s-{rng.getrandbits(40):010x}"
        return Interaction(t, sid, user, version, model, tuple(turns), gaps, self.conditions(t), rng.getrandbits(32))

    def _first_turn(self, t: datetime, rng: random.Random, user: User) -> Turn:
        r = rng.random()
        if r < 0.025:
            return qs.injection(rng)
        if r < 0.035:
            return qs.abuse(rng)
        drift = t >= self.drift_start and rng.random() < 0.35
        turn = qs.realise(rng.choice(qs.DRIFT_CATALOG if drift else qs.CATALOG), rng)
        if rng.random() < 0.12:
            turn = qs.with_pii(turn, rng, user.name, user.email, user.phone)
        return turn

    def _attack_burst(self, rng: random.Random) -> list[Interaction]:
        begin, end = self.attack
        n = max(6, int(self.traces_per_day / 5))
        out = []
        for _ in range(n):
            t = begin + (end - begin) * rng.random()
            base = self.session(t, rng, self.attacker)
            out.append(Interaction(t, base.session_id, self.attacker, base.prompt_version, PRIMARY,
                                   (qs.injection(rng),), (), base.conditions, base.seed))
        return out

    def live_session(self, t: datetime, rng: random.Random) -> Interaction:
        """A session now, with the mix of the end of the window (drift and v3 included)."""
        return self.session(t, rng)


def _user(rng: random.Random, i: int) -> User:
    first, last = rng.choice(qs.FIRST), rng.choice(qs.LAST)
    email = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(qs.DOMAINS)}"
    phone = f"+1 {rng.randint(201, 989)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
    plan = "pro" if rng.random() < 0.25 else "free"
    channel = rng.choices(("web", "mobile", "email"), (0.6, 0.3, 0.1))[0]
    return User(f"u-{1000 + i}", f"{first} {last}", email, phone, plan, channel)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
