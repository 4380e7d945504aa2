"""Exception root of the dashboard package."""


class DashboardError(Exception):
    """Base for every error the dashboard raises on purpose."""


class ConfigError(DashboardError):
    """A setting has a bad value. ``str()`` is the one line shown to the user."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"{key}={value!r}: {reason}")
        self.key = key
        self.value = value
        self.reason = reason


class BadMessage(DashboardError):
    """A Kafka message that cannot be used. ``reason`` is a short stable label used in counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
