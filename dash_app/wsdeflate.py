"""permessage-deflate for the relay's WebSocket: compress each frame once, not once per connection.

The hub encodes one frame per subscription group and tick and hands the same text to every client
of the group. With the stock extension (websockets' ``PerMessageDeflate`` with context takeover, as
uvicorn negotiates it) each connection then deflates that text again with its own compressor: 1,000
pages cost 1,000 compressions per tick (bench/README.md, fan-out: 44 % of a core with deflate, 8 %
without).

RFC 7692 lets the sending side choose, per message, (a) to compress without referring to earlier
messages ("no context takeover" is always decodable by a receiver that keeps its window) and (b) not to
compress at all (RSV1 clear). So without changing the negotiation or the frames the page decodes:

- ``shared`` (default): every message is deflated on its own, and identical messages (the same frame
  going to every client of a group, whichever connection asks) are deflated once and the result
  reused. Costs a little ratio against context takeover (names repeated across frames are not
  back-referenced), saves one compression per extra client.
- ``connection``: websockets' own behaviour, per connection with context takeover (best ratio, CPU
  grows with clients).
- ``off``: never compress (for loopback and fast LANs; clients may still offer the extension).

Hooked in by :func:`install`, which swaps the factory uvicorn's ``websockets-sansio`` protocol
instantiates for every connection (what ``python -m dash_app``, the examples and the tests use).
Incoming frames are decoded exactly as before.
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import CONT, CTRL_OPCODES, Frame
from websockets.typing import ExtensionParameter

log = logging.getLogger(__name__)

Mode = Literal["shared", "connection", "off"]
MODES: tuple[Mode, ...] = ("shared", "connection", "off")

_TAIL = b"\x00\x00\xff\xff"  # what a sync flush ends with; RFC 7692 removes it
CACHE_BYTES = 64 << 20  # uncompressed bytes of recent frames kept with their compressed form ...
CACHE_ENTRIES = 1024
CACHE_SECONDS = 10.0  # ... for this long at most: a frame reaches every queue within a few ticks
CACHE_MAX_FRAME = 32 << 20  # larger messages are compressed for each connection
FAST_ABOVE = 1 << 20  # messages this large (snapshots) use zlib level 1: half the CPU, ~9 % more bytes


class FrameCache:
    """Recent messages → their deflated form, per (window bits, settings). Event-loop only."""

    RECENT = 8  # the frames of the last tick(s), compared before hashing (one memcmp, no hash of the frame)

    def __init__(self, max_bytes: int = CACHE_BYTES, max_entries: int = CACHE_ENTRIES,
                 max_age: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        self._entries: dict[tuple[int, tuple[tuple[str, Any], ...], bytes], tuple[float, bytes]] = {}
        # The newest entries, newest first, as (wbits, settings, data, deflated): every connection of a
        # group asks for the same frame in turn, and each asks with its own copy of the bytes (a fresh
        # object whose hash is not cached), so comparing against these spares hashing the whole frame.
        self._recent: deque[tuple[int, tuple[tuple[str, Any], ...], bytes, bytes]] = deque(maxlen=self.RECENT)
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @staticmethod
    def settings_key(settings: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted(settings.items()))

    def compress(self, data: bytes, wbits: int, settings: dict[str, Any],
                 key: tuple[tuple[str, Any], ...] | None = None) -> bytes:
        """``data`` deflated on its own; ``key``: :meth:`settings_key` of ``settings``, if known."""
        skey = self.settings_key(settings) if key is None else key
        for r_wbits, r_skey, r_data, r_out in self._recent:
            if r_data == data and r_wbits == wbits and r_skey == skey:
                self.hits += 1
                return r_out
        now = self._clock()
        self._evict(now - self.max_age)
        if len(data) > CACHE_MAX_FRAME:
            self.misses += 1
            return deflate(data, wbits, settings)
        entry_key = (wbits, skey, data)
        entry = self._entries.get(entry_key)
        if entry is not None:
            self.hits += 1
            out = entry[1]
        else:
            self.misses += 1
            out = deflate(data, wbits, settings)
            self._entries[entry_key] = (now, out)
            self._bytes += len(data)
            self._evict(float("-inf"))
        self._recent.appendleft((wbits, skey, data, out))
        return out

    def _evict(self, older_than: float) -> None:
        """Drop the oldest entries while over a bound or older than ``older_than``."""
        entries = self._entries
        evicted = False
        while entries:
            oldest = next(iter(entries))
            if (self._bytes <= self.max_bytes and len(entries) <= self.max_entries
                    and entries[oldest][0] >= older_than):
                break
            self._bytes -= len(oldest[2])
            del entries[oldest]
            evicted = True
        if evicted:  # the recent ones must not outlive their entries (the bounds hold for them too)
            kept = [r for r in self._recent if (r[0], r[1], r[2]) in entries]
            self._recent.clear()
            self._recent.extend(kept)

    def __len__(self) -> int:
        return len(self._entries)


def deflate(data: bytes, wbits: int, settings: dict[str, Any]) -> bytes:
    """One whole message, deflated with a fresh compressor (no context takeover), tail removed."""
    if len(data) > FAST_ABOVE:
        settings = {**settings, "level": 1}
    encoder = zlib.compressobj(wbits=-wbits, **settings)
    out = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(_TAIL) else out


CACHE = FrameCache()


class RelayDeflate(PerMessageDeflate):
    """The negotiated extension with our encoding; decoding is websockets' own."""

    def __init__(self, negotiated: PerMessageDeflate, mode: Mode, cache: FrameCache = CACHE) -> None:
        super().__init__(
            negotiated.remote_no_context_takeover,
            True,  # we never refer to an earlier message
            negotiated.remote_max_window_bits,
            negotiated.local_max_window_bits,
            negotiated.compress_settings,
        )
        self.mode = mode
        self.cache = cache
        self._settings_key = FrameCache.settings_key(self.compress_settings)
        self._fragmented = False  # inside a fragmented message we compress (never the case for the relay)

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode in CTRL_OPCODES or self.mode == "off":
            return frame
        if frame.opcode is CONT:
            if not self._fragmented:
                return frame
            self._fragmented = not frame.fin
            return super().encode(frame)
        if not frame.fin:  # first fragment: websockets' own path, a fresh compressor per message
            self._fragmented = True
            return super().encode(frame)
        data = self.cache.compress(bytes(frame.data), self.local_max_window_bits, self.compress_settings,
                                   self._settings_key)
        return Frame(frame.opcode, data, True, True, frame.rsv2, frame.rsv3)


class RelayDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates exactly like websockets' factory; the connection then encodes per ``MODE``."""

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, extension = super().process_request_params(params, accepted_extensions)
        if MODE == "connection":
            return response, extension
        return response, RelayDeflate(extension, MODE)


MODE: Mode = "shared"


def install(mode: Mode) -> bool:
    """Make uvicorn's websockets-sansio connections use ``mode`` (process-wide). False when that
    uvicorn has no such hook (then its default, ``connection``, applies)."""
    global MODE
    MODE = mode
    impl: Any = None
    with contextlib.suppress(ImportError):  # uvicorn without the sans-I/O websockets protocol
        from uvicorn.protocols.websockets import websockets_sansio_impl as impl
    if impl is None or not issubclass(getattr(impl, "ServerPerMessageDeflateFactory", object),
                                      ServerPerMessageDeflateFactory):
        if mode != "connection":
            log.warning("DASH_WS_COMPRESSION=%s needs uvicorn's websockets-sansio protocol; "
                        "using per-connection compression", mode)
        return False
    impl.ServerPerMessageDeflateFactory = RelayDeflateFactory
    return True
