"""Fan-out of Kafka samples to every connected page, in batched, sequenced frames.

The consumer thread hands samples over with :meth:`Hub.submit` (thread-safe). Everything else runs on
the event loop: every ``frame_interval`` the tick moves pending samples into the store, numbers the
tick (``seq``) and, per *subscription group* (clients that asked for the same hosts/metrics/rate),
encodes one frame shared by all of them. Because the store and ``seq`` change together in one
synchronous step, a snapshot taken between ticks holds exactly the points of ticks ``<= seq``.

Each data frame names the group's previous frame (``prev``), so a page knows it missed nothing when
``prev <= its last seq``. Recent ticks are kept in a ring, so a page that reconnects says what it has
(``resume`` with epoch and seq) and gets exactly the missing points, or a snapshot when too far behind.

Frames go out on the leading edge: when samples arrive and a group's last frame is at least
``frame_interval`` old, the hub ticks at once instead of waiting for the next regular tick, so a burst
(hosts sampling on the same second) reaches pages after the Kafka hop only. While samples keep
coming, a group still gets at most one frame per ``frame_interval`` (or its own ``interval``).

A slow page never slows the others: its queue is bounded; on overflow the backlog is replaced by the
newest point per series plus a gap marker (the page then asks for a snapshot), and a page that stays
stuck longer than ``stuck_timeout`` is disconnected with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import protocol, wsdeflate
from .messages import Sample
from .protocol import ALL, ClientRequest, Subscription
from .store import Batch, SeriesStore

log = logging.getLogger(__name__)

QUEUE_FRAMES = 64  # per client
PRUNE_INTERVAL_S = 5.0
RING_TICKS = 3000  # ticks with data kept for resume: 5 min at 10 frames/s ...
RING_POINTS = 100_000  # ... or fewer when they hold more points than this (memory, not time, bounds it)
MAX_PENDING = 50_000  # samples waiting for a tick; beyond this the consumer thread waits (backpressure)
MAX_PER_TICK = 10_000  # samples one tick takes: a replay never stalls frames, pings or /healthz for long
CLOSE_TOO_SLOW = 4008  # application close code: "you could not keep up"
JITTER_S = 0.001  # a frame this much early still counts as a full interval after the previous one


class _Client:
    __slots__ = ("broken", "busy", "coalesced", "drain", "dropped_frames", "group", "kicked", "last_progress", "queue",
                 "ready", "send", "task")

    def __init__(self, now: float, send: Callable[[str], Coroutine[Any, Any, None]] | None = None) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_FRAMES)
        self.ready = False
        self.group: _Group | None = None
        self.dropped_frames = 0
        self.coalesced = 0
        self.last_progress = now  # last time the socket accepted a frame (or nothing was waiting)
        self.busy = False  # a frame is on its way to the socket, which has not taken it yet
        self.kicked: str | None = None
        self.task: asyncio.Task[None] | None = None
        # Writes one frame to the socket. None: frames only queue (unit tests read the queue).
        self.send = send
        # Sends the queue's frames (and one the socket did not take at once); None while nothing waits.
        self.drain: asyncio.Task[None] | None = None
        self.broken = False  # the socket refused a frame (closed): nothing more is sent to it

    def offer(self, frame: str) -> bool:
        """Queue a frame; False when the queue is full (the caller coalesces)."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def replace_all(self, frame: str) -> int:
        dropped = 0
        while not self.queue.empty():
            self.queue.get_nowait()
            dropped += 1
        self.queue.put_nowait(frame)
        return dropped


_SEND_ERRORS = (WebSocketDisconnect, RuntimeError, OSError)  # the socket is closed (or closing)


def _refused(client: _Client, exc: Exception) -> None:
    """A write to the client's socket failed (called from the except clause): nothing more goes to it.
    A closed socket is expected; anything else is logged with its traceback."""
    client.broken = True
    if not isinstance(exc, _SEND_ERRORS):
        log.exception("sending a frame failed")


@types.coroutine
def _finish(coro: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Await the rest of ``coro``, a send that was started by hand and stopped at ``waiting_on`` (the
    future it awaits: the socket's buffer is full). Passes results and exceptions (cancellation) on."""
    while True:
        try:
            value = yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waiting_on = coro.send(value)
        except StopIteration:
            return


class _Group:
    """Clients with one subscription: one pending batch, one encoded frame per send."""

    __slots__ = ("clients", "last_sent_at", "last_sent_seq", "last_status_at", "pending", "sub")

    def __init__(self, sub: Subscription, seq: int, now: float) -> None:
        self.sub = sub
        self.clients: set[_Client] = set()
        self.pending = Batch()
        self.last_sent_seq = seq
        self.last_sent_at = now
        self.last_status_at = now

    def take(self, batch: Batch) -> None:
        self.pending.merge(batch, self.sub.keep)


class Hub:
    def __init__(
        self,
        store: SeriesStore,
        frame_interval: float,
        status: Callable[[], dict[str, Any]],
        heartbeat_interval: float = 1.0,
        stale_after: float = 10.0,
        stuck_timeout: float = 30.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        clock: Callable[[], float] = time.monotonic,
        on_sample: Callable[[Sample, int], None] | None = None,
        frame_budget: float = 0.0,
    ) -> None:
        self.store = store
        self.frame_interval = frame_interval
        # Frames per second summed over all clients (0 = no limit). Each frame sent costs the relay
        # about 20-25 µs per client whatever its size (most of it the socket write itself), so with
        # many viewers the gap between a group's frames widens to clients / budget: latency gives way
        # before the CPU runs out.
        self.frame_budget = frame_budget
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.stuck_timeout = stuck_timeout
        self._status = status
        self._clock_ms = clock_ms
        self._clock = clock
        self._on_sample = on_sample
        self.epoch = secrets.token_hex(6)  # changes with every process: a resume across restarts is refused
        self._pending: deque[Sample] = deque()
        self._clients: set[_Client] = set()
        self._groups: dict[Subscription, _Group] = {}
        self._members = 0  # clients in some group (those that said ready, subscribe or resume)
        self._ring: deque[tuple[int, Batch]] = deque()
        self._ring_floor = 0  # every tick <= this has left the ring
        self._ring_points = 0
        self.seq = 0
        self._last_prune = float("-inf")
        self._now = clock()
        self._loop: asyncio.AbstractEventLoop | None = None  # set by run(): submit() wakes it
        self._wake: asyncio.Event | None = None
        self._wake_requested = False
        self.early_ticks = 0  # ticks run on arrival of samples (leading edge), not on the clock
        # counters (exported by telemetry.py)
        self.frames_sent = 0
        self.bytes_sent = 0
        self.frames_encoded = 0
        self.snapshots_sent = 0
        self.snapshots_reused = 0
        # Snapshots encoded since the last tick, per subscription: pages that connect together (a
        # relay restart, a proxy reconnecting everyone) share one encoding while nothing changed.
        self._snapshots: dict[Subscription, str] = {}
        self.resumes = 0
        self.resumes_refused = 0
        self.coalesced_frames = 0
        self.gap_frames = 0
        self.slow_disconnects = 0

    # -- producer side (consumer thread) ---------------------------------------------------------
    def submit(self, samples: list[Sample]) -> None:
        """Called from the consumer thread. Blocks it while the event loop is behind: a replay of
        millions of messages then waits in Kafka, not in this process's memory."""
        while len(self._pending) > MAX_PENDING:
            time.sleep(0.005)
        self._pending.extend(samples)  # deque.extend is atomic under the GIL
        loop = self._loop
        if loop is not None and not self._wake_requested:
            self._wake_requested = True
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        self._wake_requested = False
        if self._wake is not None:
            self._wake.set()

    # -- tick ------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> int:
        """Move pending samples into the store and send what is due. Returns how many frames went out."""
        now = self._now = self._clock() if now is None else now
        now_ms = self._clock_ms()
        batch = Batch()
        for _ in range(min(len(self._pending), MAX_PER_TICK)):
            sample = self._pending.popleft()
            self.store.seen(sample.host, now)
            if self._on_sample is not None:
                self._on_sample(sample, now_ms)
            self.store.add(sample, batch)
        if now - self._last_prune >= PRUNE_INTERVAL_S:
            self._last_prune = now
            self.store.prune(now_ms)
            self._snapshots.clear()
        if batch.points:
            for group in self._groups.values():
                group.take(batch)
        due = [g for g in self._groups.values() if self._due(g, now)]
        if not batch.points and not due:
            return 0
        self.seq += 1
        self._snapshots.clear()
        if batch.points:
            self._ring.append((self.seq, batch))
            self._ring_points += len(batch)
            while len(self._ring) > RING_TICKS or (self._ring_points > RING_POINTS and len(self._ring) > 1):
                floor, old = self._ring.popleft()
                self._ring_floor = floor
                self._ring_points -= len(old)
        status: dict[str, Any] | None = None
        sent = 0
        for group in due:
            # Status rides at least once a second whether or not points flow: a page must learn
            # that Kafka came back even while data frames follow each other every tick.
            with_status = now - group.last_status_at >= self.heartbeat_interval
            if with_status and status is None:
                status = self.status()
            frame = protocol.data_frame(self.seq, group.last_sent_seq, group.pending,
                                        status if with_status else None).decode()
            self.frames_encoded += 1
            group.pending = Batch()
            group.last_sent_seq = self.seq
            group.last_sent_at = now
            if with_status:
                group.last_status_at = now
            for client in list(group.clients):
                if client.ready:
                    sent += self._deliver(client, frame, now)
        return sent

    def _due(self, group: _Group, now: float) -> bool:
        since = now - group.last_sent_at + JITTER_S
        return since >= self._heartbeat_for(group) or (bool(group.pending.points) and since >= self._gap_for(group))

    def _gap_for(self, group: _Group) -> float:
        """Least time between two data frames of the group."""
        return max(self.frame_interval, group.sub.interval, self.budget_gap)

    @property
    def budget_gap(self) -> float:
        """The frame gap the frame budget imposes on every group now (0 when it does not bind)."""
        return self._members / self.frame_budget if self.frame_budget > 0 else 0.0

    def _ready_in(self, now: float) -> float:
        """Seconds until samples arriving now could go straight out to some group (leading edge)."""
        return min((g.last_sent_at + self._gap_for(g) - JITTER_S - now for g in self._groups.values()),
                   default=float("inf"))

    def _heartbeat_for(self, group: _Group) -> float:
        return max(self.heartbeat_interval, group.sub.interval)

    def _deliver(self, client: _Client, frame: str, now: float) -> int:
        if client.broken:
            return 0
        if client.queue.empty() and not client.busy:
            client.last_progress = now
            if client.send is not None:
                # Nothing waits for this socket: write now, without a queue and a task switch per frame.
                self._send_now(client, frame)
                self.frames_sent += 1
                self.bytes_sent += len(frame)
                return 1
        elif now - client.last_progress >= self.stuck_timeout:
            # Frames have waited that long without the socket taking one: the page is stuck.
            self._kick(client, "too slow: no frame accepted for %.0f s" % (now - client.last_progress))
            return 0
        if client.offer(frame):
            self.frames_sent += 1
            self.bytes_sent += len(frame)
            self._flush(client)
            return 1
        # Coalesce: the backlog becomes the newest point per series plus a gap marker.
        sub = client.group.sub if client.group else ALL
        gap = protocol.gap_frame(self.seq, self.store.latest(sub.keep),
                                 "client too slow").decode()
        client.dropped_frames += client.replace_all(gap)
        client.coalesced += 1
        self.coalesced_frames += 1
        self.gap_frames += 1
        self._flush(client)
        return 0

    def _send_now(self, client: _Client, frame: str) -> None:
        """Start writing ``frame``; a socket with room takes it before this returns (the usual case).
        When its buffer is full, the write goes on in a drain task, which the next frames queue behind."""
        assert client.send is not None
        coro = client.send(frame)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except Exception as exc:
            _refused(client, exc)
            return
        client.busy = True
        client.drain = asyncio.get_running_loop().create_task(self._drain(client, _finish(coro, waiting_on)))

    def _flush(self, client: _Client) -> None:
        """Make sure a drain task sends what the client's queue holds."""
        if client.drain is None and client.send is not None and not client.broken and not client.queue.empty():
            client.drain = asyncio.get_running_loop().create_task(self._drain(client))

    async def _drain(self, client: _Client, started: Awaitable[None] | None = None) -> None:
        send = client.send
        assert send is not None
        try:
            if started is not None:
                client.busy = True
                await started  # waits while the socket's buffers are full
                client.busy = False
                client.last_progress = self._clock()
            while not client.queue.empty():
                frame = client.queue.get_nowait()
                client.busy = True
                await send(frame)
                client.busy = False
                client.last_progress = self._clock()
        except Exception as exc:
            _refused(client, exc)
        finally:
            client.busy = False
            if client.drain is asyncio.current_task():
                client.drain = None

    def _kick(self, client: _Client, reason: str) -> None:
        if client.kicked is None:
            client.kicked = reason
            self.slow_disconnects += 1
            log.warning("disconnecting a client: %s", reason)
            # Forget it now: its backlog is freed and it no longer counts, even while the close
            # frame waits for the socket to drain.
            self._clients.discard(client)
            self._leave(client)
            while not client.queue.empty():
                client.queue.get_nowait()
            if client.drain is not None:
                client.drain.cancel()
            if client.task is not None:
                client.task.cancel()

    async def run(self) -> None:
        """Tick every ``frame_interval``, and at once when samples arrive that some group may send now."""
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        try:
            while True:
                started = self._clock()
                try:
                    self.tick(started)
                except Exception:
                    log.exception("hub tick failed")  # keep ticking: one bad batch must not stop the page
                    await asyncio.sleep(self.frame_interval)  # but not early: no tight loop of failures
                    continue
                while (left := started + self.frame_interval - self._clock()) > 0:
                    wake.clear()
                    wait = left
                    if self._pending:  # samples wait: tick as soon as a group may send them
                        wait = min(left, self._ready_in(self._clock()))
                        if wait <= 0:
                            self.early_ticks += 1
                            await asyncio.sleep(0)  # let sockets, pings and /healthz run between ticks
                            break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), wait)
        finally:
            self._loop = self._wake = None

    def status(self) -> dict[str, Any]:
        return {
            **self._status(),
            "clients": len(self._clients),
            "stale": self.store.silent_hosts(self._now, self.stale_after),
            "stale_after": self.stale_after,
        }

    def counters(self) -> list[tuple[str, str, float]]:
        return [
            ("clients", "Connected WebSocket clients.", len(self._clients)),
            ("subscription_groups", "Distinct subscriptions with clients.", len(self._groups)),
            ("frames_sent_total", "Frames queued to clients.", self.frames_sent),
            ("bytes_sent_total", "Bytes of frames queued to clients.", self.bytes_sent),
            ("frames_encoded_total", "Data frames encoded (once per group and tick).", self.frames_encoded),
            ("snapshots_total", "Snapshots sent.", self.snapshots_sent),
            ("snapshots_reused_total", "Snapshots that reused one encoded since the last tick.",
             self.snapshots_reused),
            ("resumes_total", "Reconnects served with exactly the missing points.", self.resumes),
            ("resumes_refused_total", "Reconnects too far behind (or after a restart): snapshot.",
             self.resumes_refused),
            ("coalesced_total", "Times a slow client's backlog was replaced by latest points.",
             self.coalesced_frames),
            ("slow_disconnects_total", "Clients disconnected for being stuck.", self.slow_disconnects),
            ("ws_deflate_compressions_total", "Messages deflated (DASH_WS_COMPRESSION=shared: once per frame).",
             wsdeflate.CACHE.misses),
            ("ws_deflate_reused_total", "Messages sent with a deflated frame already made for another client.",
             wsdeflate.CACHE.hits),
        ]

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- requests ----------------------------------------------------------------------------------
    def _join(self, client: _Client, sub: Subscription) -> None:
        if client.group is not None and client.group.sub == sub:
            return
        self._leave(client)
        group = self._groups.get(sub)
        if group is None:
            group = self._groups[sub] = _Group(sub, self.seq, self._now)
        group.clients.add(client)
        client.group = group
        self._members += 1

    def _leave(self, client: _Client) -> None:
        group = client.group
        if group is not None:
            group.clients.discard(client)
            self._members -= 1
            if not group.clients:
                del self._groups[group.sub]
            client.group = None

    def snapshot(self, sub: Subscription = ALL) -> str:
        self.snapshots_sent += 1
        frame = self._snapshots.get(sub)
        if frame is not None:  # the store has not changed since it was encoded
            self.snapshots_reused += 1
            return frame
        # No prune here (the tick prunes every PRUNE_INTERVAL_S): the snapshot's cutoff already leaves
        # out what is older than the window, late arrivals included, and a prune of every series was
        # ~18 ms of each snapshot of 1,000 series — on the path of a page's first paint.
        series = self.store.snapshot(sub.keep, window_ms=sub.window * 1000 or None,
                                     now_ms=self._clock_ms(), res_ms=sub.res * 1000, res_over=sub.res_over)
        frame = self._snapshots[sub] = protocol.snapshot_frame(self.epoch, self.seq, series, self.status()).decode()
        return frame

    def _catchup(self, since: int, sub: Subscription) -> str | None:
        """Every point of ticks after ``since`` for ``sub``, or None when the ring no longer has them."""
        if since > self.seq or since < self._ring_floor:
            return None
        merged = Batch()
        for seq, batch in self._ring:
            if seq > since:
                merged.merge(batch, sub.keep)
        return protocol.catchup_frame(self.epoch, since, self.seq, merged).decode()

    def handle(self, client: _Client, request: ClientRequest) -> None:
        sub = request.subscription or (client.group.sub if client.group else ALL)
        self._join(client, sub)
        client.ready = True
        if request.kind == "resume" and request.epoch == self.epoch and request.seq is not None:
            frame = self._catchup(request.seq, sub)
            if frame is not None:
                self.resumes += 1
                client.replace_all(frame)
                return
        if request.kind == "resume":
            self.resumes_refused += 1
        client.replace_all(self.snapshot(sub))

    # -- one WebSocket ---------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        client = _Client(self._clock(), websocket.send_text)
        client.task = asyncio.current_task()
        self._clients.add(client)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    client.offer(protocol.error_frame("binary frames are not supported").decode())
                    self._flush(client)
                    continue
                try:
                    request = protocol.parse_client_message(text)
                except protocol.ClientMessageError as exc:
                    client.offer(protocol.error_frame(str(exc)).decode())
                    self._flush(client)
                    continue
                self.handle(client, request)
                self._flush(client)
        except (WebSocketDisconnect, RuntimeError):
            pass
        except asyncio.CancelledError:
            if client.kicked is None:
                raise
            await self._stop_drain(client)
            # No timeout: the close frame goes out when the page reads again; if it never does,
            # the server's ping timeout ends the connection and this returns.
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_TOO_SLOW, client.kicked[:120])
        finally:
            self._clients.discard(client)
            self._leave(client)
            client.broken = True  # no frame starts after this
            await self._stop_drain(client)

    @staticmethod
    async def _stop_drain(client: _Client) -> None:
        drain = client.drain
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
