"""The scheduler lease: several holders in one process against the embedded store, exactly one wins."""

from __future__ import annotations

import threading
import time

import pytest

from store.client import Store
from store.leases import Lease, LeaseKeeper, LeaseTimeout, create_table, current, exclusive

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def leases(store: Store) -> Store:
    create_table(store)
    return store


def test_one_holder_among_many_and_renewal_keeps_it(leases: Store) -> None:
    contenders = [Lease(leases, "alerts", holder=f"scheduler-{i}", ttl_s=5) for i in range(4)]
    won = [lease.try_acquire() for lease in contenders]
    assert won == [True, False, False, False]
    assert current(leases, "alerts").holder == "scheduler-0"
    # Renewals keep it; the others keep losing; another role is independent.
    for _ in range(2):
        assert contenders[0].try_acquire()
        assert not any(lease.try_acquire() for lease in contenders[1:])
    assert Lease(leases, "migrate", holder="m", ttl_s=5).try_acquire()
    assert [lease.held for lease in contenders] == [True, False, False, False]


def test_racing_newcomers_agree_on_one_winner(leases: Store) -> None:
    contenders = [Lease(leases, "race", holder=f"h{i}", ttl_s=10) for i in range(6)]
    results: dict[str, bool] = {}
    barrier = threading.Barrier(len(contenders))

    def attempt(lease: Lease) -> None:
        barrier.wait()
        results[lease.holder] = lease.try_acquire()

    threads = [threading.Thread(target=attempt, args=(lease,)) for lease in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(results.values()) == 1
    winner = current(leases, "race").holder
    assert results[winner] is True
    # Whoever lost now sees the winner and stays out; the winner still renews.
    assert all(not lease.try_acquire() for lease in contenders if lease.holder != winner)
    assert next(lease for lease in contenders if lease.holder == winner).try_acquire()


def test_expiry_hands_over_and_a_stale_holder_cannot_come_back(leases: Store) -> None:
    first = Lease(leases, "alerts", holder="first", ttl_s=1)
    second = Lease(leases, "alerts", holder="second", ttl_s=1)
    assert first.try_acquire() and not second.try_acquire()
    time.sleep(1.3)  # first stalls past its expiry (a GC pause, a lost network)
    assert not first.held
    assert second.try_acquire()
    # The stalled holder's renewal must not resurrect its old, earlier-started term.
    assert not first.try_acquire()
    assert current(leases, "alerts").holder == "second"


def test_release_lets_the_next_one_in_at_once(leases: Store) -> None:
    first = Lease(leases, "alerts", holder="first", ttl_s=30)
    second = Lease(leases, "alerts", holder="second", ttl_s=30)
    assert first.try_acquire()
    first.release()
    assert not first.held
    assert second.try_acquire()


def test_keepers_run_exactly_one_scheduler_and_fail_over(leases: Store) -> None:
    keepers = [LeaseKeeper(Lease(leases, "alerts", holder=f"k{i}", ttl_s=1.5), poll_s=0.2).start()
               for i in range(3)]
    try:
        assert keepers[0].wait_held(10) or keepers[1].wait_held(10) or keepers[2].wait_held(10)
        for _ in range(8):  # across several renewals, never two at once
            assert sum(k.held for k in keepers) <= 1
            time.sleep(0.2)
        leader = next(k for k in keepers if k.held)
        leader.stop(release=False)  # dies without releasing: the others wait out the expiry
        others = [k for k in keepers if k is not leader]
        deadline = time.monotonic() + 10
        while not any(k.held for k in others) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sum(k.held for k in others) == 1
    finally:
        for k in keepers:
            k.stop()


def test_exclusive_waits_for_the_holder_and_times_out(leases: Store) -> None:
    order: list[str] = []
    with exclusive(leases, "migrate", ttl_s=2, holder="a"):
        def second() -> None:
            with exclusive(leases, "migrate", ttl_s=2, holder="b", wait_s=20):
                order.append("b")

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        order.append("a")
    t.join(30)
    assert order == ["a", "b"]
    blocker = Lease(leases, "migrate", holder="blocker", ttl_s=30)
    assert blocker.try_acquire()
    with pytest.raises(LeaseTimeout, match="blocker"):
        with exclusive(leases, "migrate", ttl_s=2, wait_s=0.5):
            pass


def test_concurrent_migrations_against_a_server_take_turns(engine_dsn: str) -> None:
    """Two collectors starting at once against one server: one applies, the other finds nothing to do.
    (chDB stands in for the server; the stores are told they are not embedded.)"""
    import uuid

    from store.migrate import load_migrations, migrate

    # One client object for both (chDB is one engine per process, used through one lock); the two
    # migrate() calls still interleave statement by statement.
    database = f"t_{uuid.uuid4().hex[:12]}"
    shared = Store(engine_dsn, database=database)
    shared.embedded = False
    stores = [shared, shared]
    applied: list[list[int]] = []
    barrier = threading.Barrier(2)

    def start(s: Store) -> None:
        barrier.wait()
        applied.append(migrate(s))

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        versions = [m.version for m in load_migrations()]
        assert sorted(applied, key=len) == [[], versions]
        # Each version recorded once (no FINAL: a second insert would show as a second row).
        assert stores[0].query_rows("SELECT count(), uniqExact(version) FROM schema_migrations")[0] == (
            len(versions), len(versions))
        holders = stores[0].query_rows("SELECT uniqExact(holder) FROM leases WHERE role = 'migrate'")[0][0]
        assert holders == 2  # both took the lease, one after the other
    finally:
        stores[0].command(f"DROP DATABASE IF EXISTS `{database}`")
