from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from collector.wal import HEADER, WAL, WALFull

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def frame_size(project: str, payload: bytes) -> int:
    return HEADER.size + len(project.encode()) + len(payload)


def read_all(wal: WAL) -> list[tuple[int, bytes]]:
    out, after = [], None
    while (batch := wal.read_batch(max_records=7, after=after)) is not None:
        out += [(r.seq, r.payload) for r in batch.records]
        after = batch.last_seq
    return out


def segment_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.wal"))


def test_round_trip(tmp_path: Path) -> None:
    with WAL(tmp_path) as wal:
        seqs = [wal.append(i % 3, f"proj-{i}", f"payload {i}".encode()) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        assert wal.pending_records == 5
        assert wal.pending_bytes == sum(frame_size(f"proj-{i}", f"payload {i}".encode()) for i in range(5))
        batch = wal.read_batch(max_records=3)
        assert batch is not None
        assert [r.seq for r in batch.records] == [1, 2, 3]
        assert (batch.first_seq, batch.last_seq) == (1, 3)
        r = batch.records[1]
        assert (r.kind, r.project, r.payload) == (1, "proj-1", b"payload 1")
        assert abs(r.received_at_ns - time.time_ns()) < 60e9
        wal.checkpoint(batch.last_seq)
        assert wal.pending_records == 2
        assert wal.pending_bytes == sum(frame_size(f"proj-{i}", f"payload {i}".encode()) for i in (3, 4))
        rest = wal.read_batch()
        assert rest is not None and [r.seq for r in rest.records] == [4, 5]
        wal.checkpoint(rest.last_seq)
        assert wal.read_batch() is None
        assert wal.pending_records == 0 and wal.pending_bytes == 0
        with pytest.raises(ValueError):
            wal.checkpoint(99)  # beyond what is durable


def test_read_batch_respects_byte_limit_but_returns_at_least_one(tmp_path: Path) -> None:
    with WAL(tmp_path) as wal:
        for _ in range(4):
            wal.append(1, "p", b"x" * 1000)
        batch = wal.read_batch(max_bytes=2500)
        assert batch is not None and len(batch.records) == 2
        big = wal.read_batch(max_bytes=10, after=batch.last_seq)
        assert big is not None and [r.seq for r in big.records] == [3]


def test_restart_continues_sequence_and_replays_unchecked(tmp_path: Path) -> None:
    with WAL(tmp_path) as wal:
        for i in range(10):
            wal.append(1, "p", b"%d" % i)
        batch = wal.read_batch(max_records=4)
        assert batch is not None
        wal.checkpoint(batch.last_seq)
        token_before = wal.read_batch().token  # type: ignore[union-attr]
    with WAL(tmp_path) as wal:
        assert wal.pending_records == 6
        replay = wal.read_batch()
        assert replay is not None
        assert [(r.seq, r.payload) for r in replay.records] == [(i + 1, b"%d" % i) for i in range(4, 10)]
        assert replay.token == token_before  # same range, same WAL → same dedup token
        assert wal.append(1, "p", b"new") == 11
    with WAL(tmp_path) as wal:
        assert [s for s, _ in read_all(wal)] == list(range(5, 12))


def test_same_batch_read_twice_has_same_token(tmp_path: Path) -> None:
    with WAL(tmp_path) as wal:
        for i in range(6):
            wal.append(1, "p", b"%d" % i)
        first = wal.read_batch(max_records=6)
        again = wal.read_batch(max_records=6)
        assert first is not None and again is not None
        assert first.token == again.token and first.records == again.records
        wal.append(1, "p", b"more")  # acknowledged after the read, before the crash
    # A simulated crash before the checkpoint: the writer re-reads the range it noted (its intent file)
    # and gets the same token, although more records have arrived since.
    with WAL(tmp_path) as wal:
        replay = wal.read_batch(max_records=first.last_seq - first.first_seq + 1, max_bytes=1 << 62,
                                after=first.first_seq - 1)
        assert replay is not None
        assert replay.token == first.token and replay.records == first.records
    with WAL(tmp_path / "other") as other:  # another collector's WAL: same seqs, different token
        for i in range(6):
            other.append(1, "p", b"%d" % i)
        theirs = other.read_batch(max_records=6)
        assert theirs is not None and theirs.last_seq == 6 and theirs.token != first.token


def test_torn_tail_truncated_mid_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with WAL(tmp_path) as wal:
        for i in range(5):
            wal.append(1, "p", b"x" * 100 + b"%d" % i)
    [seg] = segment_files(tmp_path)
    size = seg.stat().st_size
    os.truncate(seg, size - 40)  # the last record is cut in half
    with caplog.at_level(logging.WARNING), WAL(tmp_path) as wal:
        assert "torn tail" in caplog.text
        assert [s for s, _ in read_all(wal)] == [1, 2, 3, 4]
        assert seg.stat().st_size == size - frame_size("p", b"x" * 101)
        assert wal.append(1, "p", b"after") > 4  # the WAL keeps working
    with WAL(tmp_path) as wal:
        assert [p for _, p in read_all(wal)][-1] == b"after"


def test_torn_tail_flipped_byte(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with WAL(tmp_path) as wal:
        for i in range(5):
            wal.append(1, "p", b"y" * 100 + b"%d" % i)
    [seg] = segment_files(tmp_path)
    data = bytearray(seg.read_bytes())
    data[-10] ^= 0xFF
    seg.write_bytes(data)
    with caplog.at_level(logging.WARNING), WAL(tmp_path) as wal:
        assert "checksum mismatch" in caplog.text
        assert [s for s, _ in read_all(wal)] == [1, 2, 3, 4]
        # A record that may have been read before must not have its seq handed out again.
        assert wal.append(1, "p", b"z") >= 6


def test_corruption_mid_segment_skips_to_next_segment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    payload = b"m" * 1000
    with WAL(tmp_path, segment_bytes=3 * frame_size("p", payload)) as wal:
        for _ in range(9):
            wal.append(1, "p", payload)
        assert wal.segments == 3
    first = segment_files(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[HEADER.size + 10] ^= 0xFF  # inside the first record's payload
    first.write_bytes(data)
    with caplog.at_level(logging.ERROR), WAL(tmp_path, segment_bytes=3 * frame_size("p", payload)) as wal:
        batch = wal.read_batch()
        assert batch is not None
        assert "skipping to the next segment" in caplog.text
        assert [r.seq for r in batch.records] == [4, 5, 6, 7, 8, 9]
        assert batch.first_seq == 4
        wal.checkpoint(batch.last_seq)
        assert wal.segments == 0 and segment_files(tmp_path) == []


def test_corrupt_last_segment_at_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    payload = b"q" * 500
    size = 2 * frame_size("p", payload)
    with WAL(tmp_path, segment_bytes=size) as wal:
        for _ in range(4):
            wal.append(1, "p", payload)
        wal.checkpoint(2)
    last = segment_files(tmp_path)[-1]
    data = bytearray(last.read_bytes())
    data[HEADER.size + 20] ^= 0xFF  # the first of its two records: not a torn tail
    last.write_bytes(data)
    with caplog.at_level(logging.ERROR), WAL(tmp_path, segment_bytes=size) as wal:
        assert "unreadable" in caplog.text
        lost = wal.read_batch()  # an empty batch over the damage, for the writer to checkpoint
        assert lost is not None and lost.records == [] and lost.first_seq == 3 and lost.last_seq >= 4
        wal.checkpoint(lost.last_seq)
        assert wal.pending_records == 0 and last not in segment_files(tmp_path)
        seq = wal.append(1, "p", b"fresh")
        assert seq > 4  # seqs 3 and 4 may have reached the store already
        batch = wal.read_batch()
        assert batch is not None and [r.payload for r in batch.records] == [b"fresh"]
        wal.checkpoint(batch.last_seq)
        assert wal.segments == 1 and wal.pending_bytes == 0


def test_corruption_in_active_segment_at_runtime(tmp_path: Path) -> None:
    with WAL(tmp_path) as wal:
        for _ in range(3):
            wal.append(1, "p", b"r" * 500)
        [seg] = segment_files(tmp_path)
        data = bytearray(seg.read_bytes())
        data[HEADER.size + 20] ^= 0xFF  # bit rot under a running WAL
        seg.write_bytes(data)
        batch = wal.read_batch()
        # Nothing readable: an empty batch that covers the damage, so the writer can checkpoint it.
        assert batch is not None and batch.records == [] and batch.last_seq == 3
        wal.checkpoint(batch.last_seq)
        assert wal.read_batch() is None and wal.pending_records == 0
        assert wal.append(1, "p", b"later") == 4  # goes to a fresh segment, so it stays readable
        later = wal.read_batch()
        assert later is not None and [r.payload for r in later.records] == [b"later"]
        wal.checkpoint(later.last_seq)
        assert seg not in segment_files(tmp_path)


def test_wal_full_then_accepts_after_checkpoint(tmp_path: Path) -> None:
    payload = b"f" * 1000
    with WAL(tmp_path, max_bytes=5 * frame_size("p", payload)) as wal:
        for _ in range(5):
            wal.append(1, "p", payload)
        with pytest.raises(WALFull):
            wal.append(1, "p", payload)
        batch = wal.read_batch(max_records=2)
        assert batch is not None
        wal.checkpoint(batch.last_seq)
        assert wal.append(1, "p", payload) == 6
        assert wal.append(1, "p", payload) == 7
        with pytest.raises(WALFull):
            wal.append(1, "p", payload)


def test_segments_roll_and_are_deleted_after_checkpoint(tmp_path: Path) -> None:
    payload = b"s" * 1000
    with WAL(tmp_path, segment_bytes=4 * frame_size("p", payload)) as wal:
        for _ in range(20):
            wal.append(1, "p", payload)
        assert wal.segments == 5 and len(segment_files(tmp_path)) == 5
        assert segment_files(tmp_path)[1].name == f"{5:020d}.wal"
        wal.checkpoint(10)  # segments 1-4 and 5-8 are done; 9-12 only half
        assert [p.name for p in segment_files(tmp_path)][0] == f"{9:020d}.wal"
        assert wal.pending_bytes == 10 * frame_size("p", payload)
        wal.checkpoint(20)
        assert wal.segments == 1  # the segment being written to stays
        assert wal.pending_bytes == 0
    with WAL(tmp_path) as wal:
        assert wal.segments == 0 and wal.pending_records == 0  # deleted at open once fully checkpointed
        assert wal.append(1, "p", payload) == 21


def test_concurrent_appenders_share_fsyncs(tmp_path: Path) -> None:
    threads, per_thread = 8, 40
    results: list[list[int]] = [[] for _ in range(threads)]
    with WAL(tmp_path) as wal:
        def work(t: int) -> None:
            for i in range(per_thread):
                results[t].append(wal.append(1, f"p{t}", b"%d-%d" % (t, i) + b"." * 2000))

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        # The writer reads while handlers append.
        seen: list[int] = []
        after = 0
        while True:
            appending = any(w.is_alive() for w in workers)
            batch = wal.read_batch(max_records=50, after=after)
            if batch is not None:
                seen += [r.seq for r in batch.records]
                after = batch.last_seq
            elif not appending:
                break
            else:
                time.sleep(0.001)
        for w in workers:
            w.join()
        total = threads * per_thread
        acked = sorted(s for r in results for s in r)
        assert acked == list(range(1, total + 1))
        assert seen == acked  # each record exactly once, in seq order
        records = {r.seq: r for r in wal.read_batch(max_records=total).records}  # type: ignore[union-attr]
        for t, seqs in enumerate(results):
            assert [records[s].payload.split(b".")[0] for s in seqs] == [b"%d-%d" % (t, i) for i in range(per_thread)]
        assert wal.fsyncs < total / 2, (wal.fsyncs, total)


def test_append_async(tmp_path: Path) -> None:
    async def main(wal: WAL) -> list[int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        tick = asyncio.create_task(ticker())
        seqs = await asyncio.gather(*(wal.append_async(2, "a", b"%d" % i) for i in range(50)))
        tick.cancel()
        assert ticks > 0  # the loop kept running while appends waited for their fsync
        return list(seqs)

    with WAL(tmp_path) as wal:
        seqs = asyncio.run(main(wal))
        assert sorted(seqs) == list(range(1, 51))
        assert wal.fsyncs < 50
        batch = wal.read_batch()
        assert batch is not None and {r.payload for r in batch.records} == {b"%d" % i for i in range(50)}


def test_append_after_close_raises(tmp_path: Path) -> None:
    wal = WAL(tmp_path)
    wal.close()
    with pytest.raises(RuntimeError):
        wal.append(1, "p", b"late")


def test_fsync_failure_fails_appends_instead_of_hanging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = WAL(tmp_path)

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="WAL write failed"):
        wal.append(1, "p", b"never acknowledged")
    with pytest.raises(OSError, match="unusable"):
        wal.append(1, "p", b"refused")
    wal.close()
    monkeypatch.undo()
    with WAL(tmp_path) as again:  # a restart recovers
        seq = again.append(1, "p", b"ok")
        batch = again.read_batch()
        assert batch is not None and batch.records[-1].seq == seq and batch.records[-1].payload == b"ok"


CHILD = """
import sys, threading
from collector.wal import WAL
wal = WAL(sys.argv[1], segment_bytes=256 << 10, group_commit_ms=1)
lock = threading.Lock()
def work(t):
    i = 0
    while True:
        seq = wal.append(1, "p", b"%d-%d:" % (t, i) + b"k" * 20000)
        with lock:
            sys.stdout.write(f"{seq}\\n")
            sys.stdout.flush()
        i += 1
for t in range(4):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


@pytest.mark.slow
def test_sigkill_while_appending_loses_no_acknowledged_record(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                             env=env, text=True)
    assert child.stdout is not None
    acked: list[int] = []
    try:
        for line in child.stdout:
            acked.append(int(line))
            if len(acked) >= 1000:
                break
        child.send_signal(signal.SIGKILL)
        acked += [int(line) for line in child.stdout]  # whatever was acknowledged before the kill
    finally:
        child.kill()
        child.wait(10)
    assert len(acked) >= 1000
    with WAL(tmp_path) as wal:
        seqs = [s for s, _ in read_all(wal)]
        assert seqs == sorted(set(seqs))
        assert set(acked) <= set(seqs)
        assert wal.append(1, "p", b"after") > max(seqs)
