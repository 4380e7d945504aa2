import logging

from dash_app.ratelimit import RateLimitedLog, RateLimitFilter


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_rate_limited_log_counts_suppressed(caplog):
    clock = Clock()
    rl = RateLimitedLog(logging.getLogger("t.rl"), interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger="t.rl"):
        assert rl.warning("bad %s", 1)
        assert not rl.warning("bad %s", 2)
        assert not rl.warning("bad %s", 3)
        clock.t = 10.0
        assert rl.warning("bad %s", 4)
    assert [r.getMessage() for r in caplog.records] == ["bad 1", "bad 4 (2 similar suppressed)"]


def test_filter_limits_per_message_prefix():
    clock = Clock()
    f = RateLimitFilter(interval=30, clock=clock)

    def rec(msg):
        return logging.LogRecord("x", logging.ERROR, __file__, 1, msg, None, None)

    assert f.filter(rec("FAIL connect to 1"))
    assert not f.filter(rec("FAIL connect to 1"))
    assert f.filter(rec("other message"))
    clock.t = 31
    assert f.filter(rec("FAIL connect to 1"))
