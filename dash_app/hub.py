"""Fan-out of Kafka samples to every connected page, in batched, sequenced frames.

The consumer thread hands samples over with :meth:`Hub.submit` (thread-safe). Everything else runs on
the event loop: every ``frame_interval`` the tick moves pending samples into the store and encodes
*one* data frame for all ready clients. Because the store and the frame sequence change together in
one synchronous step, a snapshot taken between ticks contains exactly the points of frames ``<= seq``,
so snapshot + later frames never overlap and never leave a hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import protocol
from .messages import Sample
from .store import Batch, SeriesStore

log = logging.getLogger(__name__)

QUEUE_FRAMES = 64  # per client; beyond that frames are dropped and the client resyncs on the seq gap
PRUNE_INTERVAL_S = 5.0


class _Client:
    __slots__ = ("dropped_frames", "queue", "ready")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_FRAMES)
        self.ready = False
        self.dropped_frames = 0

    def offer(self, frame: str) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # Dropping (not blocking) keeps one slow page from slowing the others; the page sees
            # the seq gap and asks for a snapshot.
            self.dropped_frames += 1

    def replace_all(self, frame: str) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(frame)


class Hub:
    def __init__(
        self,
        store: SeriesStore,
        frame_interval: float,
        status: Callable[[], dict[str, Any]],
        heartbeat_interval: float = 1.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.store = store
        self.frame_interval = frame_interval
        self.heartbeat_interval = heartbeat_interval
        self._status = status
        self._clock_ms = clock_ms
        self._pending: deque[Sample] = deque()
        self._clients: set[_Client] = set()
        self.seq = 0
        self.frames_sent = 0
        self._last_heartbeat = float("-inf")
        self._last_prune = float("-inf")

    # -- producer side (consumer thread) ---------------------------------------------------------
    def submit(self, samples: list[Sample]) -> None:
        self._pending.extend(samples)  # deque.extend is atomic under the GIL

    # -- tick ------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> str | None:
        """Move pending samples into the store and broadcast one frame. Returns the frame sent."""
        now = time.monotonic() if now is None else now
        batch = Batch()
        while self._pending:
            self.store.add(self._pending.popleft(), batch)
        if now - self._last_prune >= PRUNE_INTERVAL_S:
            self._last_prune = now
            self.store.prune(self._clock_ms())
        heartbeat = now - self._last_heartbeat >= self.heartbeat_interval
        if not batch.points and not heartbeat:
            return None
        if heartbeat:
            self._last_heartbeat = now
        self.seq += 1
        frame = protocol.data_frame(self.seq, batch, self.status() if heartbeat else None).decode()
        for client in self._clients:
            if client.ready:
                client.offer(frame)
                self.frames_sent += 1
        return frame

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.tick(started)
            except Exception:
                log.exception("hub tick failed")  # keep ticking: one bad batch must not stop the page
            await asyncio.sleep(max(0.0, self.frame_interval - (time.monotonic() - started)))

    def status(self) -> dict[str, Any]:
        return {**self._status(), "clients": len(self._clients)}

    def snapshot(self) -> str:
        # Late arrivals older than the window (replayed history, a producer's backlog) are not news.
        self.store.prune(self._clock_ms())
        return protocol.snapshot_frame(self.seq, self.store.snapshot(), self.status()).decode()

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- one WebSocket ---------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        client = _Client()
        self._clients.add(client)
        sender = asyncio.create_task(self._send_loop(websocket, client))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    client.offer(protocol.error_frame("binary frames are not supported").decode())
                    continue
                try:
                    request = protocol.parse_client_message(text)
                except protocol.ClientMessageError as exc:
                    client.offer(protocol.error_frame(str(exc)).decode())
                    continue
                # ready and resync both mean "send me everything, then follow"
                client.replace_all(self.snapshot())
                client.ready = True
                log.debug("client %s: %s", id(client), request)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    @staticmethod
    async def _send_loop(websocket: WebSocket, client: _Client) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while True:
                await websocket.send_text(await client.queue.get())
