import orjson
import pytest

from dash_app import protocol
from dash_app.protocol import Subscription
from dash_app.store import Batch


def test_data_frame_carries_seq_prev_series_and_optional_status():
    batch = Batch()
    batch.add(("h", "cpu.percent"), 10, 1.5)
    batch.add(("h", "cpu.percent"), 20, 2.5)
    frame = orjson.loads(protocol.data_frame(7, 5, batch, None))
    assert frame == {"type": "data", "seq": 7, "prev": 5,
                     "series": [{"host": "h", "metric": "cpu.percent", "ts": [10, 20], "y": [1.5, 2.5]}]}
    with_status = orjson.loads(protocol.data_frame(8, 7, Batch(), {"kafka": "connected"}))
    assert with_status["series"] == [] and with_status["status"] == {"kafka": "connected"}


def test_snapshot_and_catchup_frames_carry_the_epoch():
    frame = orjson.loads(protocol.snapshot_frame("e1", 3, [], {"kafka": "connecting"}))
    assert (frame["type"], frame["v"], frame["epoch"], frame["seq"]) == ("snapshot", protocol.PROTOCOL_VERSION,
                                                                         "e1", 3)
    frame = orjson.loads(protocol.catchup_frame("e1", 3, 9, Batch()))
    assert (frame["type"], frame["from"], frame["seq"]) == ("catchup", 3, 9)


@pytest.mark.parametrize("text", ['{"type":"ready"}', '{"type":"ready","n":3}'])
def test_ready(text):
    req = protocol.parse_client_message(text)
    assert req.kind == "ready" and req.subscription is None


def test_ready_with_a_subscription_and_the_seed_style_topics():
    req = protocol.parse_client_message(
        '{"type":"subscribe","hosts":["web-*"],"topics":["host:db-1","metric:cpu.*"],"interval":1}')
    assert req.subscription == Subscription(("web-*", "db-1"), ("cpu.*",), 1.0)
    sub = req.subscription
    assert sub.matches(("web-3", "cpu.percent")) and sub.matches(("db-1", "cpu.core0.percent"))
    assert not sub.matches(("db-2", "cpu.percent")) and not sub.matches(("web-3", "mem.used_percent"))
    assert Subscription().matches(("anything", "at.all")) and Subscription().everything


def test_res_asks_for_buckets_and_makes_its_own_group():
    req = protocol.parse_client_message('{"type":"ready","window":900,"res":10}')
    assert req.subscription == Subscription(window=900, res=10)
    assert req.subscription != Subscription(window=900)  # a coarse snapshot is not shared with raw pages
    over = protocol.parse_client_message('{"type":"ready","res":10,"res_over":200000}').subscription
    assert over is not None and (over.res, over.res_over) == (10, 200000)


def test_resume():
    req = protocol.parse_client_message('{"type":"resume","epoch":"abc","seq":41}')
    assert (req.kind, req.epoch, req.seq) == ("resume", "abc", 41)


@pytest.mark.parametrize("text", [
    "nope", "[]", '{"type":"drop tables"}', "{}", "x" * 5000,
    '{"type":"resume","seq":1}', '{"type":"resume","epoch":"e","seq":-1}', '{"type":"resume","epoch":"e","seq":true}',
    '{"type":"subscribe","hosts":"web-1"}', '{"type":"subscribe","hosts":[""]}',
    '{"type":"subscribe","topics":["rack:7"]}', '{"type":"subscribe","interval":3600}',
    '{"type":"subscribe","res":1.5}', '{"type":"subscribe","res":-10}', '{"type":"subscribe","res":true}',
    '{"type":"subscribe","res":7200}', '{"type":"subscribe","res_over":-1}', '{"type":"subscribe","res_over":"x"}',
    '{"type":"subscribe","interval":"fast"}', '{"type":"subscribe","hosts":' + str(["h"] * 51).replace("'", '"') + "}",
])
def test_bad_client_messages_are_errors(text):
    with pytest.raises(protocol.ClientMessageError):
        protocol.parse_client_message(text)


def test_parse_subscription_of_the_http_snapshot():
    assert protocol.parse_subscription("") == protocol.ALL
    assert protocol.parse_subscription("{}") == protocol.ALL
    sub = protocol.parse_subscription('{"window": 900, "res": 10, "res_over": 200000, "metrics": ["cpu.*"]}')
    assert (sub.window, sub.res, sub.res_over, sub.metrics) == (900, 10, 200000, ("cpu.*",))


@pytest.mark.parametrize(("text", "error"), [
    ("nope", "subscription is not JSON"),
    ("[1]", "subscription must be a JSON object"),
    ('{"window": -1}', "'window' must be whole seconds"),
    ('{"hosts": "' + "x" * 5000 + '"}', "subscription too large"),
])
def test_bad_http_snapshot_subscriptions_are_errors(text, error):
    with pytest.raises(protocol.ClientMessageError, match=error):
        protocol.parse_subscription(text)
