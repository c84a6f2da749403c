"""What the daemon publishes through: a protocol, the real bus publisher and a test double.

The daemon only calls the methods of :class:`AlertPublisher`, which
:class:`eew.bus.Publisher` implements; ZeroMQ stays inside :mod:`eew.bus`.
Calls never block on the network: the real publisher queues into its bounded
handover (alerts never dropped, picks drop-oldest) and sends from its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from eew.bus import BusSetup, Publisher, PublisherStatistics
from eew.bus.wire import Health
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.pick import Pick


class AlertPublisher(Protocol):
    """The part of :class:`eew.bus.Publisher` the daemon uses."""

    def start(self, timeout_s: float = 10.0) -> str:
        """Start; return the endpoint."""
        ...

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued, stop."""
        ...

    def check(self) -> None:
        """Raise if the publisher has died."""
        ...

    def publish_alert(self, alert: Alert) -> None:
        """Queue an alert (never dropped)."""
        ...

    def publish_pick(self, pick: Pick) -> bool:
        """Queue a pick; False if an older one was dropped."""
        ...

    def publish_status(self, state: str, detail: str = "") -> None:
        """Queue a status message."""
        ...

    def statistics(self) -> PublisherStatistics:
        """Counters and queue depths."""
        ...


def resend_tail_path(seedlink_state: Path | None) -> Path | None:
    """The publisher's saved resend buffer next to the SeedLink state (None: not saved).

    See :mod:`eew.bus.resend`: what subscribers had not received when the daemon
    stopped is answered by its next session.
    """
    if seedlink_state is None:
        return None
    return seedlink_state.with_name(seedlink_state.stem + ".resend")


def build_publisher(
    setup: BusSetup,
    clock: Clock,
    health: Callable[[], Health],
    resend_tail_file: Path | None = None,
) -> AlertPublisher:
    """The bus publisher described by ``[bus]``/``[bus_security]`` (``insecure_bus``: plain).

    ``resend_tail_file``: where its resend buffer is kept across restarts
    (:func:`resend_tail_path`).

    Raises
    ------
    eew.bus.BusError, eew.bus.KeyFileError
        Unusable keys or settings.
    """
    if setup.insecure:
        return Publisher(
            setup.bus,
            agency=setup.agency,
            clock=clock,
            signer=None,
            curve=None,
            health=health,
            resend_tail_file=resend_tail_file,
        )
    return Publisher.from_config(
        setup.bus,
        setup.security,
        agency=setup.agency,
        clock=clock,
        base_dir=setup.base_dir,
        health=health,
        resend_tail_file=resend_tail_file,
    )


class MemoryPublisher:
    """A publisher that keeps everything in lists (tests, dry runs).

    Parameters
    ----------
    endpoint : str
        What :meth:`start` returns.
    """

    def __init__(self, endpoint: str = "memory://") -> None:
        self.endpoint = endpoint
        self.alerts: list[Alert] = []
        self.picks: list[Pick] = []
        self.status: list[tuple[str, str]] = []
        self.started = False
        self.closed = False
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self, timeout_s: float = 10.0) -> str:
        """Mark started; return :attr:`endpoint`."""
        self.started = True
        return self.endpoint

    def close(self, timeout_s: float = 5.0) -> None:
        """Mark closed."""
        self.closed = True

    def check(self) -> None:
        """Raise :attr:`error` if a test set one."""
        if self.error is not None:
            raise self.error

    def publish_alert(self, alert: Alert) -> None:
        """Keep the alert."""
        with self._lock:
            self.alerts.append(alert)

    def publish_pick(self, pick: Pick) -> bool:
        """Keep the pick; never drops."""
        with self._lock:
            self.picks.append(pick)
        return True

    def publish_status(self, state: str, detail: str = "") -> None:
        """Keep the status message."""
        with self._lock:
            self.status.append((state, detail))

    def statistics(self) -> PublisherStatistics:
        """Counts of what was kept; no queues, no drops."""
        return PublisherStatistics(
            running=self.started and not self.closed,
            alerts_sent=len(self.alerts),
            picks_sent=len(self.picks),
            heartbeats_sent=0,
            status_sent=len(self.status),
            cache_resends=0,
            subscriptions=0,
            send_dropped=0,
            active_alerts=0,
            alerts_queued=0,
            picks_queued=0,
            picks_dropped=0,
            status_dropped=0,
            alerts_superseded=0,
        )
