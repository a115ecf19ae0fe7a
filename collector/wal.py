"""Write-ahead log: an export is acknowledged only once its payload is fsynced here.

Records live in segment files named after their first sequence number. Appenders queue framed
records; one flusher thread writes whatever is queued and fsyncs once for the whole group (group
commit). The store writer reads batches from disk, inserts them, then checkpoints; whatever is
above the checkpoint is replayed after a crash. A batch's token names its WAL and sequence range,
so re-inserting the same range is dropped by ClickHouse's insert deduplication.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

# Payload length, crc, seq, received_at_ns, kind, project length; then project and payload. The crc
# is crc32(payload) continued over the header bytes after the crc and the project, so appenders can
# checksum the large payload outside the lock, before their sequence number is known.
HEADER = struct.Struct("<IIQqHH")
STATE_FILE = "state.json"
GROUP_BYTES = 8 << 20  # stop waiting for more appenders once this much is queued
_SKIP_BODIES = 1 << 64  # read_after value that makes _frames read headers only
_POSITIONS = 64  # remembered batch-end offsets, so reads and checkpoints rarely rescan a segment


class WALFull(Exception):
    """Un-checkpointed records would exceed max_bytes: the caller should answer 429/503."""


@dataclass(frozen=True)
class Record:
    seq: int
    kind: int
    project: str
    received_at_ns: int
    payload: bytes


@dataclass(frozen=True)
class Batch:
    records: list[Record]
    first_seq: int
    last_seq: int  # may exceed records[-1].seq when a corrupt segment was skipped
    wal_id: str = ""

    @property
    def token(self) -> str:
        # The WAL id keeps two collectors (or a wiped and recreated WAL) from sharing tokens.
        return f"wal-{self.wal_id}-{self.first_seq}-{self.last_seq}"


class _Corrupt(Exception):
    def __init__(self, offset: int, reason: str, tail: bool) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.offset, self.tail = offset, tail


@dataclass(eq=False)
class _Segment:
    first_seq: int
    path: Path
    size: int = 0  # fsynced bytes, the only part readers look at
    last_seq: int = 0


def _frames(f: BinaryIO, start: int, end: int, prev_seq: int,
            read_after: int) -> Iterator[tuple[int, tuple[int, ...], bytes, bytes]]:
    """Yield (next offset, header, project, payload) for the frames in [start, end); bodies of
    seq <= read_after are skipped unread (empty) and unchecked."""
    pos = start
    f.seek(pos)
    while pos < end:
        head = f.read(HEADER.size)
        if len(head) < HEADER.size:
            raise _Corrupt(pos, "truncated header", tail=True)
        fields = HEADER.unpack(head)
        plen, crc, seq, _, _, jlen = fields
        nxt = pos + HEADER.size + jlen + plen
        if nxt > end:
            raise _Corrupt(pos, "truncated record", tail=True)
        if seq <= prev_seq:
            raise _Corrupt(pos, "sequence out of order", tail=nxt == end)
        project = payload = b""
        if seq > read_after:
            project, payload = f.read(jlen), f.read(plen)
            if zlib.crc32(head[8:] + project, zlib.crc32(payload)) != crc or len(payload) < plen:
                raise _Corrupt(pos, "checksum mismatch", tail=nxt == end)
        else:
            f.seek(nxt)
        yield nxt, fields, project, payload
        prev_seq, pos = seq, nxt


class WAL:
    def __init__(self, directory: str | Path, max_bytes: int = 1 << 30, segment_bytes: int = 64 << 20,
                 group_commit_ms: float = 2.0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.segment_bytes = max_bytes, segment_bytes
        self._window = group_commit_ms / 1000
        self.fsyncs = 0  # data fsyncs, so tests and benchmarks can see group commit at work
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._reader_lock = threading.Lock()  # read_batch/checkpoint state; taken before _lock
        self._queue: list[tuple[int, bytearray, Future[int]]] = []
        self._queued_bytes = self._unsynced_bytes = 0
        self._expect = 1  # records in the last group commit
        self._closing = self._roll_requested = False
        self._broken: Exception | None = None
        self._positions: dict[int, tuple[int, int]] = {}  # seq -> (segment first_seq, offset after it)
        self._active: _Segment | None = None  # written by the flusher only; created on first append
        self._fd, self._written, self._last_written = -1, 0, 0
        self.wal_id, self._ckpt = self._load_state()
        self._segments: list[_Segment] = []
        self._next_seq = self._recover()
        # Readers may go up to here; past a damaged tail that covers seqs no longer readable, so the
        # writer can checkpoint over them.
        self._durable_seq = self._next_seq - 1
        self._done_bytes = 0  # bytes of the first segment at or below the checkpoint
        self._apply_checkpoint()
        self._flusher = threading.Thread(target=self._flush_loop, name="wal-flusher", daemon=True)
        self._flusher.start()

    # --- appending ---------------------------------------------------------------------------

    def append(self, kind: int, project: str, payload: bytes) -> int:
        """Return the record's sequence number once it is fsynced."""
        return self._submit(kind, project, payload).result()

    async def append_async(self, kind: int, project: str, payload: bytes) -> int:
        return await asyncio.wrap_future(self._submit(kind, project, payload))

    def _submit(self, kind: int, project: str, payload: bytes) -> Future[int]:
        name = project.encode()
        if not 0 <= kind <= 0xFFFF or len(name) > 0xFFFF or len(payload) > 0xFFFFFFFF:
            raise ValueError("WAL record kind, project or payload out of range")
        head = HEADER.size + len(name)
        frame = bytearray(head + len(payload))
        frame[HEADER.size:head] = name
        frame[head:] = payload
        payload_crc = zlib.crc32(payload)
        now, future = time.time_ns(), Future[int]()
        with self._cond:
            if self._closing:
                raise RuntimeError("WAL is closed")
            if self._broken is not None:
                raise OSError("WAL is unusable after an I/O error; restart to recover") from self._broken
            if self._pending_bytes() + len(frame) > self.max_bytes:
                raise WALFull(f"write-ahead log holds {self._pending_bytes()} of {self.max_bytes} bytes")
            seq = self._next_seq
            self._next_seq += 1
            HEADER.pack_into(frame, 0, len(payload), 0, seq, now, kind, len(name))
            struct.pack_into("<I", frame, 4, zlib.crc32(memoryview(frame)[8:head], payload_crc))
            self._queue.append((seq, frame, future))
            self._queued_bytes += len(frame)
            self._cond.notify()
        return future

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                # Give other appenders up to the window to join this fsync, but stop as soon as the
                # crowd that shared the last one is back (closed-loop appenders gain nothing by waiting).
                deadline = time.monotonic() + self._window
                while ((self._expect == 1 or len(self._queue) < self._expect)
                       and self._queued_bytes < GROUP_BYTES and not self._closing):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                group, self._queue = self._queue, []
                self._expect = len(group)
                self._unsynced_bytes += self._queued_bytes
                self._queued_bytes = 0
            try:
                self._write(group)
            except Exception as exc:  # never leave appenders waiting on a dead flusher
                # After a failed write or fsync the file's state is unknown: stop accepting, and let a
                # restart truncate whatever tail is torn.
                log.error("WAL write failed; refusing further appends", exc_info=True)
                with self._cond:
                    self._broken = exc
                    group += self._queue
                    self._queue = []
                for _, _, future in group:
                    future.set_exception(OSError(f"WAL write failed: {exc}"))
                return
            for seq, _, future in group:
                future.set_result(seq)

    def _write(self, group: list[tuple[int, bytearray, Future[int]]]) -> None:
        for seq, frame, _ in group:
            if self._active is None or self._roll_requested or (
                    self._written and self._written + len(frame) > self.segment_bytes):
                self._roll(seq)
            view = memoryview(frame)
            while view:
                view = view[os.write(self._fd, view):]
            self._written += len(frame)
            self._last_written = seq
        os.fsync(self._fd)
        self.fsyncs += 1
        self._publish()

    def _publish(self) -> None:
        """Let readers see what is fsynced in the active segment."""
        seg = self._active
        assert seg is not None
        with self._lock:
            self._unsynced_bytes -= self._written - seg.size
            seg.size, seg.last_seq = self._written, self._last_written
            self._durable_seq = self._last_written

    def _roll(self, seq: int) -> None:
        if self._active is not None:
            if self._written > self._active.size:
                os.fsync(self._fd)
                self.fsyncs += 1
                self._publish()
            os.close(self._fd)
        seg = _Segment(seq, self.directory / f"{seq:020d}.wal")
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._fsync_dir()  # the new file's name must survive a crash too
        self._written = 0
        with self._lock:
            self._segments.append(seg)
            self._active, self._roll_requested = seg, False

    # --- reading and checkpointing -----------------------------------------------------------

    def read_batch(self, max_records: int = 10000, max_bytes: int = 32 << 20,
                   after: int | None = None) -> Batch | None:
        """The oldest fsynced records after `after` (default: the checkpoint), read from disk."""
        with self._reader_lock:
            with self._lock:
                start = self._ckpt if after is None else after
                stop = self._durable_seq
                segs = [(s.first_seq, s.path, s.size) for s in self._segments]
            if start >= stop:
                return None
            records: list[Record] = []
            nbytes, passed = 0, start
            i = max(bisect_right([s[0] for s in segs], start + 1) - 1, 0)
            for j, (first, path, size) in enumerate(segs[i:], i):
                upper = segs[j + 1][0] - 1 if j + 1 < len(segs) else stop
                cached = self._positions.get(start)
                pos, prev = (cached[1], start) if cached and cached[0] == first else (0, first - 1)
                try:
                    with open(path, "rb") as f:
                        for nxt, (plen, _, seq, at, kind, _), project, payload in _frames(
                                f, pos, size, prev, start):
                            if seq > stop or len(records) >= max_records or (
                                    records and nbytes + plen > max_bytes):
                                return self._batch(records, start, passed)
                            passed = seq
                            if seq > start:
                                records.append(Record(seq, kind, project.decode(), at, payload))
                                nbytes += plen
                                self._remember(seq, first, nxt)
                except _Corrupt as exc:
                    log.error("WAL %s: %s; skipping to the next segment", path.name, exc)
                    with self._lock:  # nothing appended behind the damage could be read: move on
                        self._roll_requested |= self._active is not None and self._active.path == path
                passed = max(passed, min(upper, stop))  # everything in this segment is behind us
            return self._batch(records, start, passed)

    def _batch(self, records: list[Record], start: int, passed: int) -> Batch | None:
        if passed <= start:
            return None
        # An empty batch only covers an unreadable stretch: checkpointing it lets the segment go.
        return Batch(records, records[0].seq if records else start + 1, passed, self.wal_id)

    def _remember(self, seq: int, segment: int, offset: int) -> None:
        self._positions[seq] = (segment, offset)
        if len(self._positions) > _POSITIONS:
            del self._positions[next(iter(self._positions))]

    def checkpoint(self, upto_seq: int) -> None:
        """Records <= upto_seq are in the store: persist that, and delete segments wholly below it."""
        with self._reader_lock:
            with self._lock:
                if upto_seq <= self._ckpt:
                    return
                if upto_seq > self._durable_seq:
                    raise ValueError(f"cannot checkpoint {upto_seq}: only {self._durable_seq} is durable")
            self._save_state(self.wal_id, upto_seq)
            with self._lock:
                self._ckpt = upto_seq
            self._apply_checkpoint()

    def _apply_checkpoint(self) -> None:
        with self._lock:
            doomed = []
            while self._segments and self._segments[0] is not self._active and self._upper(0) <= self._ckpt:
                doomed.append(self._segments.pop(0))
            first, ckpt = (self._segments[0] if self._segments else None), self._ckpt
        for seg in doomed:  # no directory fsync: a segment that comes back is deleted again at open
            seg.path.unlink(missing_ok=True)
        done = self._offset_after(first, ckpt) if first is not None and ckpt >= first.first_seq else 0
        with self._lock:
            self._done_bytes = done
        self._positions = {s: p for s, p in self._positions.items() if s >= ckpt}

    def _upper(self, i: int) -> int:
        """The highest seq segment i can hold (called with _lock held)."""
        return self._segments[i + 1].first_seq - 1 if i + 1 < len(self._segments) else self._next_seq - 1

    def _offset_after(self, seg: _Segment, seq: int) -> int:
        cached = self._positions.get(seq)
        if cached and cached[0] == seg.first_seq:
            return cached[1]
        pos = 0
        try:
            with open(seg.path, "rb") as f:
                for nxt, fields, _, _ in _frames(f, 0, seg.size, seg.first_seq - 1, _SKIP_BODIES):
                    if fields[2] > seq:
                        break
                    pos = nxt
        except _Corrupt:
            pass  # already reported; the records before it are what counts
        return pos

    # --- state and recovery ------------------------------------------------------------------

    def _load_state(self) -> tuple[str, int]:
        path = self.directory / STATE_FILE
        if not path.exists():
            wal_id = uuid.uuid4().hex[:12]
            self._save_state(wal_id, 0)
            return wal_id, 0
        state = json.loads(path.read_text())
        return state["wal_id"], state["checkpoint"]

    def _save_state(self, wal_id: str, checkpoint: int) -> None:
        tmp = self.directory / (STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"wal_id": wal_id, "checkpoint": checkpoint}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / STATE_FILE)
        self._fsync_dir()

    def _recover(self) -> int:
        """Scan the segments (headers only, except the last one, which a crash may have torn) and
        return the next sequence number."""
        paths = sorted(p for p in self.directory.glob("*.wal") if p.stem.isdigit())
        next_seq = self._ckpt + 1
        for path in paths:
            seg, size, last = _Segment(int(path.stem), path), path.stat().st_size, path == paths[-1]
            truncated = False
            try:
                with open(path, "rb") as f:
                    for nxt, fields, _, _ in _frames(f, 0, size, seg.first_seq - 1, -1 if last else _SKIP_BODIES):
                        seg.size, seg.last_seq = nxt, fields[2]
            except _Corrupt as exc:
                if last and exc.tail:
                    log.warning("WAL %s: torn tail (%s), truncating %d bytes", path.name, exc, size - seg.size)
                    with open(path, "r+b") as f:
                        f.truncate(seg.size)
                        os.fsync(f.fileno())
                    truncated = True
                else:
                    log.error("WAL %s: %s; %d bytes after it are unreadable", path.name, exc, size - seg.size)
            # Never hand out a seq again that a lost record may have had (every record takes at least
            # one header's worth of bytes): a reused range would get a token ClickHouse already saw.
            lost = -(-(size - seg.size) // HEADER.size)
            next_seq = max(next_seq, max(seg.last_seq, seg.first_seq - 1) + 1 + lost)
            if seg.size == 0 and (size == 0 or truncated):
                path.unlink()
                continue
            self._segments.append(seg)
        return next_seq

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- introspection and shutdown ----------------------------------------------------------

    def _pending_bytes(self) -> int:
        return (sum(s.size for s in self._segments) - self._done_bytes
                + self._queued_bytes + self._unsynced_bytes)

    @property
    def pending_bytes(self) -> int:
        """Bytes not yet checkpointed, including records still waiting for their fsync."""
        with self._lock:
            return self._pending_bytes()

    @property
    def pending_records(self) -> int:
        with self._lock:
            return self._next_seq - 1 - self._ckpt

    @property
    def segments(self) -> int:
        with self._lock:
            return len(self._segments)

    def close(self) -> None:
        """Flush what is queued and stop the flusher; appends after this raise."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._flusher.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
