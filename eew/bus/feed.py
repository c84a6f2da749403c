"""One subscriber thread: receive from one bus endpoint until told to stop.

The daemon's upstream pick feeds (:mod:`eew.daemon.upstream`) and the partner link
(:mod:`eew.partner.link`) both run one such thread per endpoint and hand what they
receive to an asyncio loop; this is their shared loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

from eew.bus.config import SubscriberConfig
from eew.bus.signing import Verifier
from eew.bus.subscriber import CurveClient, Subscriber
from eew.bus.wire import BusMessage
from eew.model.clock import Clock

log = logging.getLogger("eew.bus.feed")

#: how long one receive waits before the stop flag is checked again [s]
POLL_S = 0.1


def run_feed(
    endpoint: str,
    *,
    verifier: Verifier | None,
    clock: Clock,
    curve: CurveClient | None,
    kinds: Sequence[str],
    max_clock_skew_s: float,
    stop: threading.Event,
    on_message: Callable[[BusMessage | None, Subscriber], None],
    loop: asyncio.AbstractEventLoop,
    on_crash: Callable[[BaseException], None],
    what: str,
) -> None:
    """Receive from ``endpoint`` in the calling thread until ``stop`` is set.

    ``on_message`` is called after every receive (with ``None`` when nothing came within
    :data:`POLL_S`), in this thread. An exception ends the feed: it is logged, and handed
    to ``on_crash`` in ``loop``'s thread, because a thread has no caller to raise to; the
    owner stores it and re-raises it from its own API (never swallowed).
    """
    try:
        config = SubscriberConfig(max_clock_skew_s=max_clock_skew_s)
        with Subscriber(
            endpoint, verifier=verifier, clock=clock, config=config, curve=curve, kinds=kinds
        ) as sub:
            while not stop.is_set():
                on_message(sub.receive(POLL_S), sub)
    except Exception as exc:  # thread boundary: logged here, re-raised by the owner
        log.exception("%s %s failed", what, endpoint)
        if not loop.is_closed():
            loop.call_soon_threadsafe(on_crash, exc)
