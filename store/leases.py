"""Leases: exactly one holder of a role (the alert scheduler, a migration run) per deployment.

ClickHouse has no compare-and-set, so a lease is taken with an insert and a read-back. Every attempt
inserts a row for a *term* (holder + random id) with an expiry computed by the store's own clock
(`now64()`), so the processes' clocks never matter. The holder is the unexpired, unreleased term that
started first; everyone who reads the table agrees on it. A holder renews by inserting another row for
its term; a renewal only counts while the term is still live, so a holder that stalled past its
expiry can never take the lease back from its successor. A newcomer only starts a term when no term
is live, and when two start at once the read-back picks the earlier one for both.

On a cluster the table is replicated to every node: inserts wait for a quorum and reads ask for
sequential consistency, so two processes on two replicas see each other's rows.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from store.client import Store, StoreError

log = logging.getLogger(__name__)

LEASES_TABLE = (
    "CREATE TABLE IF NOT EXISTS leases ("
    "role LowCardinality(String), term String, holder String, "
    "acquired_at DateTime64(6, 'UTC'), expires_at DateTime64(6, 'UTC'), released UInt8 DEFAULT 0) "
    "ENGINE = MergeTree ORDER BY (role, term, acquired_at) "
    "TTL toDateTime(expires_at) + toIntervalDay(1)"
)
# Live terms of a role, first started first. `now` comes back too, so the caller can turn the
# store-clock expiry into a local monotonic deadline.
_LIVE = (
    "SELECT term, any(holder) AS holder, min(acquired_at) AS started, max(expires_at) AS until "
    "FROM leases WHERE role = {role:String} GROUP BY term "
    "HAVING until > now64(6) AND max(released) = 0"
)
_WINNER = (f"SELECT term, holder, until, dateDiff('millisecond', now64(6), until) AS left_ms "
           f"FROM ({_LIVE}) ORDER BY started, term LIMIT 1")
_INSERT = (
    "INSERT INTO leases (role, term, holder, acquired_at, expires_at, released) "
    "SELECT {role:String}, {term:String}, {holder:String}, now64(6), "
    "now64(6) + toIntervalMillisecond({ttl_ms:UInt32}), {released:UInt8} "
)
_IF_TERM_LIVE = f"WHERE {{term:String}} IN (SELECT term FROM ({_LIVE}))"
_IF_NONE_LIVE = f"WHERE (SELECT count() FROM ({_LIVE})) = 0"


def create_table(store: Store, cluster: str | None = None) -> None:
    if not cluster:
        store.command(LEASES_TABLE)
        return
    from store.cluster import Layout, render_statement

    for statement in render_statement(LEASES_TABLE, Layout(cluster, store.database)):
        store.command(statement)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Holding:
    role: str
    term: str
    holder: str
    until: Any  # the store's datetime
    left_s: float  # until minus the store's now, when read


def current(store: Store, role: str, cluster: str | None = None) -> Holding | None:
    """Who holds the role now, if anyone."""
    settings = {"select_sequential_consistency": 1} if cluster else None
    rows = store.query(_WINNER, {"role": role}, settings=settings)
    if not rows:
        return None
    row = rows[0]
    return Holding(role, row["term"], row["holder"], row["until"], max(0.0, row["left_ms"] / 1000.0))


class Lease:
    """One process's claim on a role. Not thread-safe by itself: LeaseKeeper drives it from one thread."""

    def __init__(self, store: Store, role: str, holder: str | None = None, ttl_s: float = 30.0,
                 cluster: str | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.store, self.role, self.ttl_s, self.cluster = store, role, ttl_s, cluster
        self.holder = holder or default_holder()
        self._term: str | None = None
        self._deadline = 0.0  # local monotonic time after which we must assume the lease is gone

    @property
    def held(self) -> bool:
        return self._term is not None and time.monotonic() < self._deadline

    def _params(self, term: str, released: int = 0) -> dict[str, Any]:
        return {"role": self.role, "term": term, "holder": self.holder,
                "ttl_ms": int(self.ttl_s * 1000), "released": released}

    def _insert(self, term: str, condition: str, released: int = 0) -> None:
        settings = {"insert_quorum": "auto"} if self.cluster else None
        self.store.command(_INSERT + condition, self._params(term, released), settings=settings)

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it, or renew it if we do; True while we hold it."""
        asked = time.monotonic()
        term = self._term
        if term is None:
            term = uuid.uuid4().hex
            self._insert(term, _IF_NONE_LIVE)
        else:
            self._insert(term, _IF_TERM_LIVE)
        winner = current(self.store, self.role, self.cluster)
        if winner is None or winner.term != term:
            if self._term is not None:
                log.warning("lease %s lost by %s to %s", self.role, self.holder, winner.holder if winner else "nobody")
            self._term = None
            return False
        # Count from when we asked (the store may have answered late) and keep a margin for clock rate.
        self._deadline = asked + winner.left_s * 0.9
        self._term = term
        return True

    def release(self) -> None:
        if self._term is None:
            return
        term, self._term = self._term, None
        try:
            self._insert(term, "", released=1)
        except StoreError as exc:  # it expires on its own anyway
            log.warning("could not release lease %s: %s", self.role, exc)


class LeaseKeeper:
    """A thread that tries to take the lease every poll_s and, once held, renews it every ttl/3."""

    def __init__(self, lease: Lease, poll_s: float | None = None) -> None:
        self.lease = lease
        self.poll_s = poll_s if poll_s is not None else min(lease.ttl_s / 3, 5.0)
        self.renew_s = lease.ttl_s / 3
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self.lease.held

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name=f"lease-{self.lease.role}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.lease.try_acquire()
            except Exception as exc:  # noqa: BLE001 - the keeper must outlive any one failure; the
                # deadline runs out on its own if the store stays away
                log.warning("lease %s: %s: %s", self.lease.role, type(exc).__name__, exc)
            with self._changed:
                self._changed.notify_all()
            self._stop.wait(self.renew_s if self.lease.held else self.poll_s)

    def wait_held(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.lease.held:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._changed.wait(min(left, self.poll_s))
        return True

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(self.lease.ttl_s + 10)
        if release:
            self.lease.release()


class LeaseTimeout(TimeoutError):
    pass


@contextmanager
def exclusive(store: Store, role: str, *, cluster: str | None = None, ttl_s: float = 60.0,
              wait_s: float = 900.0, holder: str | None = None) -> Iterator[Lease]:
    """Run a block as the only holder of `role`, waiting for the current holder to finish."""
    keeper = LeaseKeeper(Lease(store, role, holder, ttl_s, cluster), poll_s=min(ttl_s / 3, 1.0)).start()
    try:
        if not keeper.wait_held(wait_s):
            who = current(store, role, cluster)
            raise LeaseTimeout(f"'{role}' is still held by {who.holder if who else 'nobody'} after {wait_s:.0f}s")
        yield keeper.lease
    finally:
        keeper.stop(release=True)
