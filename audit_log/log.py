"""AuditLog: sequence entries durably in group commits, integrate them into tiles, publish checkpoints.

https://www.rfc-editor.org/rfc/rfc9162, https://c2sp.org/tlog-tiles, https://c2sp.org/tlog-checkpoint

Many concurrent callers hand entries to one writer thread through a bounded queue (a full queue raises
:class:`Pushback`). The writer drains a batch, gives each entry its ``seq``, ``time`` and ``prev``, seals
it, grows a copy of the tree's right edge, and commits entries, leaf hashes, changed tiles, the tree
state, outbox rows and counters in one transaction. Only after the commit does the new head become
visible and do the callers' futures resolve; if the commit fails, every caller in the batch gets a
:class:`StoreError` and the head stays at the last committed state, so memory never runs ahead of disk.

Opening reads the tree-state row, the partial tiles at the right edge and the latest checkpoint: its
cost does not grow with the log. Proofs read full tiles through an LRU of expanded tiles.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from audit_log import merkle
from audit_log.checkpoint import Checkpoint, CheckpointPolicy, sign_checkpoint
from audit_log.entry import ChainState, EntryKind, canonical_body, encode_entry
from audit_log.errors import (
    AuditLogError,
    FormatError,
    KeyStoreError,
    NotFound,
    Pushback,
    StoreError,
    TamperError,
)
from audit_log.formats import dsse
from audit_log.formats.note import NoteSigner, NoteVerifier
from audit_log.keystore import KeyStore
from audit_log.receipt import Receipt
from audit_log.sealing import EntrySealer
from audit_log.store.base import (
    Batch,
    CounterWrite,
    LogStore,
    OutboxRecord,
    StateMoved,
    StoredCheckpoint,
    StoredEntry,
    StoredState,
    StoreReader,
    TileWrite,
)
from audit_log.tile_cache import TileCache
from audit_log.tiles import TILE_WIDTH, TileCoord, tile_width_at
from audit_log.tree_edge import TreeEdge

MAX_TOPIC_LENGTH = 64
MAX_OUTBOX_KEY_LENGTH = 128
MAX_OUTBOX_PAYLOAD = 1 << 20
MAX_COUNTER_NAME = 128
MAX_OUTBOX_PAGE = 1000
_INT64 = 1 << 63


@dataclass(frozen=True)
class OutboxItem:
    """An already sealed or signed object for the relay, written in the same transaction as its entry."""

    topic: str
    payload: bytes = field(repr=False)
    key: str | None = None  # a lookup key, e.g. the verdict id of a signed verdict

    def __post_init__(self) -> None:
        if (
            not 0 < len(self.topic) <= MAX_TOPIC_LENGTH
            or not self.topic.isascii()
            or not self.topic.isprintable()
        ):
            raise FormatError(f"outbox topic must be 1..{MAX_TOPIC_LENGTH} printable ASCII characters")
        if not isinstance(self.payload, bytes) or len(self.payload) > MAX_OUTBOX_PAYLOAD:
            raise FormatError(f"outbox payload must be bytes of at most {MAX_OUTBOX_PAYLOAD}")
        if self.key is not None and (
            not 0 < len(self.key) <= MAX_OUTBOX_KEY_LENGTH
            or not self.key.isascii()
            or not self.key.isprintable()
        ):
            raise FormatError(f"outbox key must be 1..{MAX_OUTBOX_KEY_LENGTH} printable ASCII characters")


#: Outbox rows given directly, or made by the writer once the entry's index is known (for objects
#: that must name their own log index, such as a signed verdict).
Outbox = Sequence[OutboxItem] | Callable[[int], Sequence[OutboxItem]]


@dataclass(frozen=True)
class AppendResult:
    """A durably appended entry: its index, leaf hash, exact bytes, time (ms) and outbox row ids."""

    index: int
    leaf_hash: bytes
    entry_bytes: bytes = field(repr=False)
    time: int
    outbox_ids: tuple[int, ...] = ()


_Future = asyncio.Future[AppendResult] | concurrent.futures.Future[AppendResult]


@dataclass(frozen=True)
class _Request:
    kind: EntryKind
    body: bytes
    outbox: tuple[OutboxItem, ...] | Callable[[int], Sequence[OutboxItem]]
    state: tuple[tuple[str, int], ...]
    future: _Future
    loop: asyncio.AbstractEventLoop | None


_STOP = object()


@dataclass(frozen=True)
class _Head:
    """The committed state readers see; replaced, never mutated, after each commit."""

    edge: TreeEdge
    chain: ChainState
    root: bytes
    last_outbox_id: int
    counters: Mapping[str, int]


def _validate_state(state: Mapping[str, int] | None) -> tuple[tuple[str, int], ...]:
    if not state:
        return ()
    for name, value in state.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_COUNTER_NAME or not name.isprintable():
            raise FormatError(f"state names must be 1..{MAX_COUNTER_NAME} printable characters")
        if type(value) is not int or not -_INT64 <= value < _INT64:
            raise FormatError("state values must be 64-bit integers")
    return tuple(state.items())


def _settle_futures(outcomes: Sequence[tuple[_Future, AppendResult | AuditLogError]]) -> None:
    for future, outcome in outcomes:
        if future.done():  # The caller gave up (cancelled); the entry is appended all the same.
            continue
        if isinstance(outcome, AppendResult):
            future.set_result(outcome)
        else:
            future.set_exception(outcome)


def _settle(outcomes: Sequence[tuple[_Request, AppendResult | AuditLogError]]) -> None:
    """Resolve futures: thread futures directly, asyncio futures with one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Future, AppendResult | AuditLogError]]] = {}
    for request, outcome in outcomes:
        if request.loop is None:
            _settle_futures([(request.future, outcome)])
        else:
            by_loop.setdefault(request.loop, []).append((request.future, outcome))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # A closed loop has nobody left waiting.
            loop.call_soon_threadsafe(_settle_futures, items)


class AuditLog:
    """A verifiable, durable, append-only log of audit entries. Build it with :meth:`open`."""

    def __init__(
        self,
        store: LogStore,
        keys: KeyStore,
        origin: str,
        clock: Callable[[], float],
        head: _Head,
        latest_checkpoint: tuple[int, bytes] | None,
        outbox_acked: int,
        *,
        max_batch: int,
        max_pending: int,
        tile_cache: TileCache,
    ) -> None:
        self.origin = origin
        self._store = store
        self._clock = clock
        self._log_key = keys.log_key()
        self._signer = NoteSigner(origin, self._log_key.private_key)
        self._sealer = EntrySealer(keys.storage_key(), origin)
        self._head = head
        self._latest = latest_checkpoint
        self._acked = outbox_acked
        self._tiles = tile_cache
        self._max_batch = max_batch
        self._queue: queue.Queue[_Request | object] = queue.Queue(max_pending)
        self._accepting = threading.Lock()
        self._publishing = threading.Lock()
        self._closed = False
        self._failure: StoreError | None = None
        self._writer = threading.Thread(
            target=self._write_loop, name=f"audit-log-writer {origin}", daemon=True
        )
        self._writer.start()

    @classmethod
    def open(
        cls,
        store: LogStore,
        keys: KeyStore,
        *,
        origin: str,
        clock: Callable[[], float] = time.time,
        max_batch: int = 1024,
        max_pending: int = 16384,
        tile_cache_size: int = 1024,
    ) -> AuditLog:
        """Resume (or start) the log in ``store``. The log owns ``store``: it closes it on close, or at
        once if opening fails, so the writer lock is never left behind.

        Reads O(1) rows: the tree state, at most eight right-edge tiles, the latest checkpoint and the
        counters. Raises :class:`StoreError` if the store belongs to another origin,
        :class:`KeyStoreError` if the storage key is not the one the store was sealed with, and
        :class:`TamperError` if the state, the edge tiles and the latest checkpoint disagree.
        """
        try:
            log = cls._open(store, keys, origin, clock, max_batch, max_pending, tile_cache_size)
        except BaseException:
            store.close()
            raise
        try:
            log._check_latest_checkpoint()
        except BaseException:
            log.close()
            raise
        return log

    @classmethod
    def _open(
        cls,
        store: LogStore,
        keys: KeyStore,
        origin: str,
        clock: Callable[[], float],
        max_batch: int,
        max_pending: int,
        tile_cache_size: int,
    ) -> AuditLog:
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be positive")
        Checkpoint(origin, 0, merkle.EMPTY_ROOT)  # The origin must be a valid checkpoint origin line.
        NoteSigner(origin, keys.log_key().private_key)  # ... and a valid note key name.
        sealer = EntrySealer(keys.storage_key(), origin)
        tiles = TileCache(store.read_tile, tile_cache_size)
        with store.reading() as reader:
            stored = reader.state()
            resumed = None if stored is None else _resume(reader, stored, origin, sealer, store.description)
        if resumed is None:
            head, latest, acked = _Head(TreeEdge.empty(), ChainState(), merkle.EMPTY_ROOT, 0, {}), None, 0
            store.initialize(StoredState(origin, sealer.key_id, 0, head.root, head.chain.last_leaf, 0))
        else:
            head, latest, acked = resumed
        published = None if latest is None else (latest.size, latest.note)
        return cls(
            store,
            keys,
            origin,
            clock,
            head,
            published,
            acked,
            max_batch=max_batch,
            max_pending=max_pending,
            tile_cache=tiles,
        )

    # -- appending ---------------------------------------------------------------------------------

    def _request(
        self,
        kind: EntryKind,
        body: Mapping[str, object],
        outbox: Outbox,
        state: Mapping[str, int] | None,
        future: _Future,
        loop: asyncio.AbstractEventLoop | None,
    ) -> _Request:
        try:
            entry_kind = EntryKind(kind)
        except ValueError:
            raise FormatError("unknown audit entry kind") from None
        items = outbox if callable(outbox) else _outbox_items(outbox)
        return _Request(entry_kind, canonical_body(body), items, _validate_state(state), future, loop)

    def _enqueue(self, request: _Request) -> None:
        with self._accepting:
            if self._closed:
                raise StoreError("the audit log is closed")
            if self._failure is not None:
                raise StoreError(str(self._failure))
            try:
                self._queue.put_nowait(request)
            except queue.Full:
                raise Pushback(f"{self._queue.maxsize} appends are already waiting") from None

    async def append(
        self,
        kind: EntryKind,
        body: Mapping[str, object],
        *,
        outbox: Outbox = (),
        state: Mapping[str, int] | None = None,
    ) -> AppendResult:
        """Append one entry; returns once it is durable. Bad bodies raise :class:`FormatError` at once.

        ``outbox`` rows and ``state`` counters are written in the same transaction. ``outbox`` may be a
        function of the entry's index, called by the writer before the commit; if it raises, only this
        entry fails. Cancelling the caller does not withdraw an entry that is already queued.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AppendResult] = loop.create_future()
        self._enqueue(self._request(kind, body, outbox, state, future, loop))
        return await future

    def append_blocking(
        self,
        kind: EntryKind,
        body: Mapping[str, object],
        *,
        outbox: Outbox = (),
        state: Mapping[str, int] | None = None,
    ) -> AppendResult:
        """:meth:`append` for synchronous callers; blocks until the entry is durable."""
        future: concurrent.futures.Future[AppendResult] = concurrent.futures.Future()
        self._enqueue(self._request(kind, body, outbox, state, future, None))
        return future.result()

    @property
    def writable(self) -> bool:
        """False once the log refuses appends (closed, or its store changed under the writer)."""
        return not self._closed and self._failure is None

    @property
    def pending(self) -> int:
        """Appends waiting for the writer (for metrics)."""
        return self._queue.qsize()

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._write_batch([r for r in batch if isinstance(r, _Request)])

    def _write_batch(self, requests: list[_Request]) -> None:
        if self._failure is not None:
            _settle([(r, StoreError(str(self._failure))) for r in requests])
            return
        head = self._head
        try:
            new_head, batch, outcomes = self._prepare(head, requests)
            if batch is not None:
                self._store.commit(batch)
        except StateMoved as exc:
            self._failure = StoreError(f"{exc}; reopen the log")
            _settle([(r, _append_failed(len(requests), exc)) for r in requests])
        except Exception as exc:  # Fail closed: every caller learns that its entry is not durable.
            _settle([(r, _append_failed(len(requests), exc)) for r in requests])
        else:
            self._head = new_head
            _settle(outcomes)

    def _prepare(
        self, head: _Head, requests: list[_Request]
    ) -> tuple[_Head, Batch | None, list[tuple[_Request, AppendResult | AuditLogError]]]:
        """Sequence and integrate ``requests`` on a copy of the head; nothing is shared until commit.

        A request whose outbox function fails gets that failure and takes no index.
        """
        edge, chain, outbox_id = head.edge.copy(), head.chain, head.last_outbox_id
        now = int(self._clock() * 1000)
        entries: list[StoredEntry] = []
        outcomes: list[tuple[_Request, AppendResult | AuditLogError]] = []
        completed: list[tuple[TileCoord, bytes]] = []
        outbox: list[OutboxRecord] = []
        counters: dict[str, int] = {}
        for request in requests:
            seq, entry_time = chain.size, max(now, chain.last_time)
            try:
                items = (
                    request.outbox
                    if isinstance(request.outbox, tuple)
                    else _outbox_items(request.outbox(seq))
                )
            except Exception as exc:  # Only this entry fails; it takes no index.
                outcomes.append((request, _outbox_failed(exc)))
                continue
            data = encode_entry(seq, entry_time, request.kind, chain.last_leaf, request.body)
            leaf = merkle.leaf_hash(data)
            entries.append(StoredEntry(seq, self._sealer.seal(seq, data), leaf))
            completed.extend(edge.append(leaf))
            ids = []
            for item in items:
                outbox_id += 1
                outbox.append(OutboxRecord(outbox_id, item.topic, entry_time, item.payload, seq, item.key))
                ids.append(outbox_id)
            counters.update(request.state)
            chain = ChainState(seq + 1, leaf, entry_time)
            outcomes.append((request, AppendResult(seq, leaf, data, entry_time, tuple(ids))))
        if not entries:
            return head, None, outcomes
        old_size = head.chain.size
        tiles = tuple(
            TileWrite(coord, data, tile_width_at(coord.level, coord.index, old_size) > 0)
            for coord, data in completed + edge.partial_tiles_since(old_size)
        )
        root = edge.root()
        batch = Batch(
            old_size,
            tuple(entries),
            tiles,
            StoredState(self.origin, self._sealer.key_id, chain.size, root, chain.last_leaf, chain.last_time),
            tuple(outbox),
            tuple(CounterWrite(name, value, name in head.counters) for name, value in counters.items()),
        )
        merged = {**head.counters, **counters} if counters else head.counters
        return _Head(edge, chain, root, outbox_id, merged), batch, outcomes

    # -- reading the tree --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._head.chain.size

    def root(self) -> bytes:
        return self._head.root

    def _node_reader(self, head: _Head) -> merkle.NodeReader:
        return head.edge.node_reader(self._tiles.full_tile)

    def root_at(self, size: int) -> bytes:
        head = self._head
        if not 0 <= size <= head.chain.size:
            raise NotFound(f"the log has {head.chain.size} entries, not {size}")
        return merkle.root_hash(size, self._node_reader(head))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        head = self._head
        if size > head.chain.size:
            raise NotFound(f"the log has {head.chain.size} entries, not {size}")
        if not 0 <= index < size:
            raise FormatError(f"index {index} is not in a tree of size {size}")
        return merkle.inclusion_proof(index, size, self._node_reader(head))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes (``0 < old_size <= new_size``)."""
        head = self._head
        if new_size > head.chain.size:
            raise NotFound(f"the log has {head.chain.size} entries, not {new_size}")
        if not 0 < old_size <= new_size:
            raise FormatError(f"no consistency proof exists from size {old_size} to {new_size}")
        return merkle.consistency_proof(old_size, new_size, self._node_reader(head))

    def tile(self, coord: TileCoord) -> bytes:
        """The bytes of a tlog-tiles hash tile; a narrower ``.p/W`` request gets a prefix of today's tile."""
        head = self._head
        width = tile_width_at(coord.level, coord.index, head.chain.size)
        if coord.width > width:
            raise NotFound(f"tile {coord.path()} does not exist at tree size {head.chain.size}")
        if width == TILE_WIDTH:
            row = self._tiles.full_tile(coord.level, coord.index).levels[0]
        else:
            partial = head.edge.partial_tile(coord.level)
            assert partial is not None, "a tile narrower than 256 at the current size is the edge tile"
            row = partial.levels[0]
        return b"".join(row[: coord.width])

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash of entry ``index`` (read from the tiles, no decryption)."""
        head = self._head
        if not 0 <= index < head.chain.size:
            raise NotFound(f"the log has no entry {index}")
        return self._node_reader(head)(0, index)

    @property
    def store_description(self) -> str:
        return self._store.description

    def entry(self, index: int) -> bytes:
        """The plaintext bytes of entry ``index``, checked against its stored leaf hash."""
        if not 0 <= index < self.size:
            raise NotFound(f"the log has no entry {index}")
        with self._store.reading() as reader:
            stored = reader.entry(index)
        if stored is None:
            raise TamperError("entry is missing from the store", index)
        data = self._sealer.open(index, stored.sealed)
        if merkle.leaf_hash(data) != stored.leaf_hash:
            raise TamperError("entry does not match its stored leaf hash", index)
        return data

    # -- signing -----------------------------------------------------------------------------------

    @property
    def verifier(self) -> NoteVerifier:
        """The checkpoint verifier key (its ``vkey`` is served at /v1/log/key)."""
        return self._signer.verifier

    @property
    def signer_key_id(self) -> str:
        """The DSSE key id of the log key (``sim:``-prefixed in simulated mode)."""
        return self._log_key.key_id

    def sign_dsse(self, payload_type: str, payload: bytes) -> dsse.Envelope:
        return dsse.sign(payload_type, payload, self.signer_key_id, self._log_key.private_key)

    def publish_checkpoint(self) -> bytes:
        """Sign the current tree head as a C2SP checkpoint, store it durably and return the note.

        Publishing twice at the same size with the same key returns the stored note unchanged, so no
        duplicate checkpoint is ever stored.
        """
        with self._publishing:
            head = self._head
            note = sign_checkpoint(Checkpoint(self.origin, head.chain.size, head.root), self._signer)
            if self._latest is not None and self._latest[1] == note:
                return note
            self._store.add_checkpoint(head.chain.size, note)
            self._latest = (head.chain.size, note)
            return note

    def latest_checkpoint(self) -> bytes | None:
        return None if self._latest is None else self._latest[1]

    @property
    def latest_checkpoint_size(self) -> int | None:
        return None if self._latest is None else self._latest[0]

    def _check_latest_checkpoint(self) -> None:
        """On open: the latest stored checkpoint must describe a prefix of the stored tree."""
        if self._latest is None:
            return
        size, note = self._latest
        if size > self.size:
            raise TamperError(
                f"the store's tree (size {self.size}) is older than its checkpoint at size {size}"
            )
        expected = Checkpoint(self.origin, size, self.root_at(size)).body().encode() + b"\n"
        if not note.startswith(expected):
            raise TamperError(f"the latest stored checkpoint at size {size} disagrees with the stored tree")

    def receipt(self, index: int, checkpoint_note: bytes | None = None) -> Receipt:
        """A ``c2sp.org/tlog-proof@v1`` receipt for entry ``index``, with the entry bytes as ``extra``.

        Uses ``checkpoint_note`` if given (it must be this log's and cover ``index``), else the latest
        checkpoint, publishing a new one if the latest does not cover the entry yet.
        """
        if checkpoint_note is None:
            latest = self._latest
            if latest is not None and latest[0] > index:
                checkpoint_note = latest[1]
            else:
                checkpoint_note = self.publish_checkpoint()
        checkpoint = CheckpointPolicy.of(self.origin, [self.verifier]).verify(checkpoint_note)
        if not 0 <= index < checkpoint.size:
            raise NotFound(f"entry {index} is not covered by the checkpoint at size {checkpoint.size}")
        proof = self.inclusion_proof(index, checkpoint.size)
        return Receipt(index, tuple(proof), checkpoint_note, extra=self.entry(index))

    # -- state counters and outbox -----------------------------------------------------------------

    def state_value(self, name: str) -> int | None:
        """A counter written by :meth:`append`'s ``state`` (committed value), or None if never set."""
        return self._head.counters.get(name)

    def outbox_by_key(self, topic: str, key: str) -> OutboxRecord | None:
        """The newest committed outbox row of ``topic`` stored under ``key`` (e.g. a verdict id)."""
        with self._store.reading() as reader:
            return reader.outbox_by_key(topic, key)

    def outbox_after(self, cursor: int, limit: int = 100) -> list[OutboxRecord]:
        """Committed outbox rows with id > ``cursor``, in id (= commit) order."""
        if cursor < 0 or not 0 < limit <= MAX_OUTBOX_PAGE:
            raise FormatError(f"cursor must be >= 0 and limit 1..{MAX_OUTBOX_PAGE}")
        with self._store.reading() as reader:
            return reader.outbox_after(cursor, limit)

    def ack(self, cursor: int) -> None:
        """Record durably that the relay holds every outbox row up to ``cursor``; never moves back."""
        if not 0 <= cursor <= self._head.last_outbox_id:
            raise NotFound(f"no outbox row {cursor} to acknowledge")
        with self._publishing:
            if cursor > self._acked:
                self._store.set_outbox_acked(cursor)
                self._acked = cursor

    @property
    def acked_cursor(self) -> int:
        return self._acked

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Finish every queued append, stop the writer, and close the store (releasing its lock)."""
        with self._accepting:
            if self._closed:
                return
            self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        self._store.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> AuditLog:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _outbox_items(items: Sequence[OutboxItem]) -> tuple[OutboxItem, ...]:
    checked = tuple(items)
    if not all(isinstance(item, OutboxItem) for item in checked):
        raise FormatError("outbox items must be OutboxItem")
    return checked


def _outbox_failed(cause: BaseException) -> AuditLogError:
    error = (
        cause
        if isinstance(cause, AuditLogError)
        else StoreError(f"the entry's outbox function failed ({type(cause).__name__})")
    )
    if error is not cause:
        error.__cause__ = cause
    return error


def _append_failed(count: int, cause: BaseException) -> StoreError:
    error = StoreError(f"append of a batch of {count} entries failed ({type(cause).__name__})")
    error.__cause__ = cause
    return error


def _edge_tile(read: Callable[[int, int], bytes | None], coord: TileCoord) -> bytes:
    data = read(coord.level, coord.index)
    if data is None or len(data) != coord.width * merkle.HASH_SIZE:
        raise TamperError(f"the stored edge tile {coord.path()} does not match the tree state")
    return data


def _resume(
    reader: StoreReader, stored: StoredState, origin: str, sealer: EntrySealer, where: str
) -> tuple[_Head, StoredCheckpoint | None, int]:
    """The committed head of an existing store, after checking that it is this log's and self-consistent."""
    if stored.origin != origin:
        raise StoreError(f"{where} holds the log {stored.origin!r}, not {origin!r}")
    if stored.storage_key_id != sealer.key_id:
        raise KeyStoreError(f"the storage key is not the one {where} was sealed with")
    edge = TreeEdge.restore(stored.size, lambda coord: _edge_tile(reader.tile, coord))
    if edge.root() != stored.root:
        raise TamperError(f"the stored tree state at size {stored.size} disagrees with its edge tiles")
    chain = ChainState(stored.size, stored.last_leaf, stored.last_time)
    head = _Head(edge, chain, stored.root, reader.last_outbox_id(), reader.counters())
    return head, reader.latest_checkpoint(), reader.outbox_acked()
