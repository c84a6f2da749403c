"""Errors of the alert bus (all derive from :class:`~eew.errors.EEWError`)."""

from __future__ import annotations

from eew.errors import EEWError


class BusError(EEWError):
    """The alert bus cannot do what was asked (bind failed, closed, misconfigured)."""


class PublisherCrashedError(BusError):
    """The publisher thread died; the original exception is the ``__cause__``."""


class KeyFileError(BusError):
    """A key file or key directory is missing, unreadable, malformed or unsafe."""


class RejectedMessage(BusError):  # noqa: N818 (a verdict, not a failure of the program)
    """A received message failed verification; ``reason`` says why.

    Raised inside the message gate and turned into a counted, logged drop; it
    never escapes :class:`~eew.bus.subscriber.Subscriber`.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
