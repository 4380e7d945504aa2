"""The relay's permessage-deflate: frames a stock client decodes, compressed once per message."""

import zlib

import orjson
import pytest
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import CONT as OP_CONT
from websockets.frames import PING as OP_PING
from websockets.frames import TEXT as OP_TEXT
from websockets.frames import Frame

from dash_app import wsdeflate
from dash_app.wsdeflate import FrameCache, RelayDeflate, RelayDeflateFactory


def negotiate(mode, cache):
    """Server and client ends of one connection, negotiated as uvicorn does (window 12, memLevel 5)."""
    client_factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    offer = client_factory.get_request_params()
    server_factory = RelayDeflateFactory(server_max_window_bits=12, client_max_window_bits=12,
                                         compress_settings={"memLevel": 5})
    old = wsdeflate.MODE
    wsdeflate.MODE = mode
    try:
        answer, server = server_factory.process_request_params(offer, [])
    finally:
        wsdeflate.MODE = old
    client = client_factory.process_response_params(answer, [])
    if isinstance(server, RelayDeflate):
        server.cache = cache
    return server, client


def frames(n):
    return [orjson.dumps({"type": "data", "seq": i, "prev": i - 1, "series": [
        {"host": f"web-{h}", "metric": "cpu.percent", "ts": [1_800_000_000_000 + i], "y": [float(h + i)]}
        for h in range(30)]}) for i in range(n)]


@pytest.mark.parametrize("mode", ["shared", "connection", "off"])
def test_a_stock_client_decodes_every_frame_in_every_mode(mode):
    server, client = negotiate(mode, FrameCache())
    assert isinstance(server, PerMessageDeflate)
    for data in frames(20):
        wire = server.encode(Frame(OP_TEXT, data))
        assert wire.rsv1 == (mode != "off")
        assert client.decode(wire).data == data


def test_the_same_frame_is_compressed_once_for_every_connection():
    cache = FrameCache()
    ends = [negotiate("shared", cache) for _ in range(50)]
    for data in frames(5):
        wires = [server.encode(Frame(OP_TEXT, data)) for server, _ in ends]
        assert len({bytes(w.data) for w in wires}) == 1, "every connection sends the same bytes"
        assert all(client.decode(w).data == data for (_, client), w in zip(ends, wires, strict=True))
    assert (cache.misses, cache.hits) == (5, 5 * 49)


def test_shared_frames_decode_in_any_order_on_a_context_keeping_client():
    """No back-reference to earlier messages: a connection that got other frames before decodes too."""
    cache = FrameCache()
    (a, client_a), (b, client_b) = negotiate("shared", cache), negotiate("shared", cache)
    f1, f2, f3 = frames(3)
    assert client_a.decode(a.encode(Frame(OP_TEXT, f1))).data == f1
    assert client_a.decode(a.encode(Frame(OP_TEXT, f3))).data == f3
    assert client_b.decode(b.encode(Frame(OP_TEXT, f2))).data == f2
    assert client_b.decode(b.encode(Frame(OP_TEXT, f3))).data == f3  # cached bytes, other history
    assert cache.hits == 1


def test_control_frames_and_fragmented_messages_still_work():
    server, client = negotiate("shared", FrameCache())
    ping = Frame(OP_PING, b"x")
    assert server.encode(ping) is ping
    first = server.encode(Frame(OP_TEXT, b'{"a": ', fin=False))
    last = server.encode(Frame(OP_CONT, b'"bbbbbbbbbbbbbbbbbbbbbbbb"}', fin=True))
    data = client.decode(first).data + client.decode(last).data
    assert data == b'{"a": "bbbbbbbbbbbbbbbbbbbbbbbb"}'
    one = frames(1)[0]
    assert client.decode(server.encode(Frame(OP_TEXT, one))).data == one


def test_the_cache_is_bounded_in_bytes_entries_and_age(monkeypatch):
    now = [0.0]
    cache = FrameCache(max_bytes=10_000, max_entries=3, max_age=10.0, clock=lambda: now[0])
    for i in range(10):
        cache.compress(b"%d" % i * 1000, 12, {})
    assert len(cache) <= 3 and cache._bytes <= 10_000
    cache.compress(b"9" * 1000, 12, {})
    assert cache.hits == 1
    now[0] = 11.0
    cache.compress(b"new", 12, {})
    assert len(cache) == 1, "entries older than max_age are gone"
    monkeypatch.setattr(wsdeflate, "CACHE_MAX_FRAME", 50_000)
    big = b"x" * 50_001
    out = cache.compress(big, 12, {})
    assert zlib.decompressobj(wbits=-12).decompress(out + b"\x00\x00\xff\xff") == big
    assert len(cache) == 1, "messages over CACHE_MAX_FRAME are not kept"


def test_connection_mode_keeps_websockets_own_extension():
    server, _ = negotiate("connection", FrameCache())
    assert type(server) is PerMessageDeflate


def test_a_recent_frame_is_found_without_hashing_and_forgotten_with_its_entry():
    cache = FrameCache(max_entries=2)
    a, b, c = (bytes(f) for f in frames(3))
    out_a = cache.compress(a, 12, {"memLevel": 5})
    key = FrameCache.settings_key({"memLevel": 5})
    copy = bytearray(a)  # every connection asks with its own copy of the bytes
    assert cache.compress(bytes(copy), 12, {"memLevel": 5}, key) is out_a
    assert cache.compress(bytes(copy), 12, {"memLevel": 9}) is not out_a, "other settings: another entry"
    cache.compress(a, 15, {"memLevel": 5})  # another window: its own entry
    assert (cache.hits, cache.misses) == (1, 3)
    cache.compress(b, 12, {}), cache.compress(c, 12, {})
    assert len(cache) == 2 and all((r[0], r[1], r[2]) in cache._entries for r in cache._recent)
    cache.compress(bytes(copy), 12, {"memLevel": 5}, key)
    assert cache.misses == 6, "an evicted frame is compressed again, not served from the recent ones"
    assert zlib.decompressobj(wbits=-12).decompress(cache.compress(a, 12, {"memLevel": 5}, key)
                                                  + b"\x00\x00\xff\xff") == a
