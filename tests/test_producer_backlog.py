"""producer.backlog: bounded together with what is in flight, drops the oldest, keeps order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer.backlog import Backlog


def test_drops_oldest_when_full() -> None:
    backlog: Backlog[int] = Backlog(capacity=3)
    assert [backlog.push(n, in_flight=0) for n in range(5)] == [0, 0, 0, 1, 1]
    assert [backlog.pop() for _ in range(len(backlog))] == [2, 3, 4]


def test_in_flight_counts_against_the_capacity() -> None:
    backlog: Backlog[int] = Backlog(capacity=4)
    backlog.push(1, in_flight=2)
    backlog.push(2, in_flight=2)
    assert backlog.push(3, in_flight=2) == 1  # 2 in flight + 2 here is the capacity
    assert (len(backlog), backlog.peek()) == (2, 2)


def test_clear_reports_how_many() -> None:
    backlog: Backlog[str] = Backlog(capacity=10)
    for item in "abc":
        backlog.push(item, in_flight=0)
    assert backlog.clear() == 3
    assert not backlog


def test_capacity_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        Backlog(capacity=1)


@given(capacity=st.integers(2, 50), in_flight=st.integers(0, 25), pushes=st.integers(0, 200))
def test_bound_order_and_drop_count(capacity: int, in_flight: int, pushes: int) -> None:
    in_flight = min(in_flight, capacity // 2)  # the sink's window is at most half the capacity
    backlog: Backlog[int] = Backlog(capacity)
    dropped = sum(backlog.push(n, in_flight) for n in range(pushes))
    assert len(backlog) + in_flight <= max(capacity, in_flight + 1)
    kept = [backlog.pop() for _ in range(len(backlog))]
    assert kept == list(range(pushes - len(kept), pushes))  # the newest, in order
    assert dropped == pushes - len(kept)
