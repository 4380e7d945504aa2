"""The local buffer: samples taken but not yet handed to the Kafka client, oldest first, bounded.

Why our own queue in front of librdkafka's: librdkafka can bound its queue
(`queue.buffering.max.messages`), but when it is full it refuses the *newest* message, and it has no
way to drop the oldest. The issue asks for the opposite (an outage longer than the buffer loses its
beginning, the dashboard gets the most recent data first once Kafka is back), so the sink hands at most
a small window of samples to librdkafka (where they wait, retried forever, in order) and keeps the
rest here, where dropping the oldest is a `popleft()`. The bound counts both: `held = len(backlog) +
in flight <= capacity`.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Backlog(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self._items: deque[T] = deque()

    def push(self, item: T, in_flight: int) -> int:
        """Append `item`; first drop the oldest items while the total held would exceed the capacity.

        Returns how many were dropped. The new item is always kept: `in_flight` is kept below the
        capacity by the caller (its window is at most half of it).
        """
        dropped = 0
        while self._items and len(self._items) + in_flight >= self.capacity:
            self._items.popleft()
            dropped += 1
        self._items.append(item)
        return dropped

    def requeue(self, items: list[T]) -> None:
        """Put `items` (oldest first) back in front: samples handed out that must be sent again."""
        self._items.extendleft(reversed(items))

    def peek(self) -> T:
        return self._items[0]

    def pop(self) -> T:
        return self._items.popleft()

    def clear(self) -> int:
        """Forget everything; returns how many items that was."""
        count = len(self._items)
        self._items.clear()
        return count

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)
