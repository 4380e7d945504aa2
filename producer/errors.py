"""The producer's exceptions: one root, so callers can catch everything the agent raises on purpose."""

from __future__ import annotations


class ProducerError(Exception):
    """Root of every error the producer raises deliberately."""


class ConfigError(ProducerError):
    """A setting has a bad value. The message is the one line shown to the user (key and value named)."""


class SinkError(ProducerError):
    """The Kafka client hit an error it cannot recover from (a librdkafka fatal error)."""
