"""The one error type the format decoders raise."""

from __future__ import annotations

from ..errors import BadMessage


class FormatError(BadMessage):
    """A record no decoder can use. ``reason`` is a short stable label (see docs/formats.md).

    A subclass of :class:`BadMessage`, so the consumer's existing ``except BadMessage`` counts it
    by reason without knowing about formats.
    """
