import orjson
import pytest

from dash_app import protocol
from dash_app.store import Batch


def test_data_frame_carries_seq_series_and_optional_status():
    batch = Batch()
    batch.add(("h", "cpu.percent"), 10, 1.5)
    batch.add(("h", "cpu.percent"), 20, 2.5)
    frame = orjson.loads(protocol.data_frame(7, batch, None))
    assert frame == {"type": "data", "seq": 7,
                     "series": [{"host": "h", "metric": "cpu.percent", "ts": [10, 20], "y": [1.5, 2.5]}]}
    with_status = orjson.loads(protocol.data_frame(8, Batch(), {"kafka": "connected"}))
    assert with_status["series"] == [] and with_status["status"] == {"kafka": "connected"}


def test_snapshot_frame_is_versioned():
    frame = orjson.loads(protocol.snapshot_frame(3, [], {"kafka": "connecting"}))
    assert frame["type"] == "snapshot" and frame["v"] == protocol.PROTOCOL_VERSION and frame["seq"] == 3


@pytest.mark.parametrize("text", ['{"type":"ready"}', '{"type":"ready","n":3}'])
def test_ready(text):
    assert protocol.parse_client_message(text) == "ready"


def test_resync():
    assert protocol.parse_client_message('{"type":"resync","n":1}') == "resync"


@pytest.mark.parametrize("text", ["nope", "[]", '{"type":"drop tables"}', "{}", "x" * 5000])
def test_unknown_client_messages_are_errors(text):
    with pytest.raises(protocol.ClientMessageError):
        protocol.parse_client_message(text)
