"""Rate-limited logging: a flood of bad messages must not become a flood of log lines."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    """Logs at most one line per ``interval`` seconds and says how many were suppressed meanwhile."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._suppressed = 0
        self._lock = threading.Lock()

    def warning(self, msg: str, *args: object) -> bool:
        """Log ``msg`` unless one was logged less than ``interval`` ago. Returns whether it was logged."""
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._suppressed += 1
                return False
            suppressed, self._suppressed = self._suppressed, 0
            self._next = now + self._interval
        if suppressed:
            msg += f" ({suppressed} similar suppressed)"
        self._logger.warning(msg, *args)
        return True


class RateLimitFilter(logging.Filter):
    """Lets one record per message prefix through per ``interval`` seconds (librdkafka repeats its
    connection failures every backoff step; one line per 30 s says as much)."""

    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = record.getMessage()[:48]
        now = self._clock()
        with self._lock:
            if now < self._next.get(key, float("-inf")):
                return False
            if len(self._next) > 1000:  # bounded: keys come from broker addresses and error texts
                self._next.clear()
            self._next[key] = now + self._interval
        return True


def librdkafka_logger(name: str) -> logging.Logger:
    """A logger for confluent-kafka's ``logger`` setting: its lines go through logging, rate-limited."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
        logger.addFilter(RateLimitFilter())
    return logger
