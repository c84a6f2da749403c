"""What ``eew replay`` tells a person: the alerts as a subscriber reads them, a quiet log.

Everything here writes to the stream it is given (stderr in ``eew replay``): stdout carries
the JSON Lines when no ``--out`` is given and must stay machine-clean.

* :func:`print_alerts`: per event, the block of its first alert as a subscriber saw it when
  it was sent (warning times, Roman intensities, instruction, drill flag), then one line
  per version.
* :func:`quiet_channel_log`: the per-channel warnings of the processing stages (a clipped
  channel, a rejected trigger, a rate mismatch, a gap...) are counted, not printed, unless
  ``-v`` is given; their kinds are already counted in the summary, and
  :func:`print_log_note` says how many were held back.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator, Sequence
from typing import TextIO

from eew.formats.screen import alert_block, choose_targets, version_line
from eew.model.alert import Alert

#: the loggers of the per-channel stage (eew.detect and eew.detect.router)
CHANNEL_LOGGER = "eew.detect"
#: versions listed in full; longer histories show the first and last few
_MAX_VERSIONS = 8


class _Counter(logging.Handler):
    """Counts the records it gets; passes ERROR and above on to the parent's handlers."""

    def __init__(self, parent: logging.Logger) -> None:
        super().__init__(logging.NOTSET)
        self.count = 0
        self._parent = parent

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self._parent.handle(record)
        else:
            self.count += 1


@contextlib.contextmanager
def quiet_channel_log(verbose: int) -> Iterator[_Counter | None]:
    """Hold back the per-channel warnings (counted) unless ``verbose`` (``-v``) is set.

    Yields the counter (its ``count``), or None when the warnings are printed as usual.
    """
    if verbose > 0:
        yield None
        return
    logger = logging.getLogger(CHANNEL_LOGGER)
    counter = _Counter(logging.getLogger(CHANNEL_LOGGER.rpartition(".")[0]))
    propagate = logger.propagate
    logger.addHandler(counter)
    logger.propagate = False
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.propagate = propagate


def print_log_note(counter: _Counter | None, stream: TextIO, in_workers: bool = False) -> None:
    """One summary line: how many per-channel warnings were held back.

    ``in_workers``: the channels ran in worker processes (``--jobs``), which hold their
    warnings back uncounted.
    """
    if counter is not None and in_workers:
        stream.write("  per-channel warnings: held back (counted above; -v prints each)\n")
    elif counter is not None and counter.count:
        stream.write(
            f"  per-channel warnings: {counter.count} held back (clipping, rejected triggers, "
            "gaps...: counted above; -v prints each)\n"
        )


def print_alerts(alerts: Sequence[Alert], stream: TextIO) -> None:
    """The alerts of a replay as a person reads them (see the module docstring)."""
    if not alerts:
        stream.write("no alert issued\n")
        return
    events: dict[tuple[str, str], list[Alert]] = {}
    for a in alerts:
        events.setdefault((a.agency, a.event_id), []).append(a)
    width = shutil.get_terminal_size((100, 24)).columns - 2 if stream.isatty() else None
    for versions in events.values():
        first = versions[0]
        stream.write(
            f"=== {len(versions)} alert message(s) for event {first.event_id}; the first, "
            "as a subscriber read it when it was sent (data time):\n"
        )
        block = alert_block(first, first.sent_time_ns, choose_targets(first), width=width)
        stream.write("".join(f"  {line}\n" for line in block))
        stream.write("  versions:\n")
        shown: list[Alert | None] = list(versions)
        if len(versions) > _MAX_VERSIONS:
            shown = [*versions[:3], None, *versions[-4:]]
        for item in shown:
            text = f"... {len(versions) - 7} more" if item is None else version_line(item)
            stream.write(f"    {text}\n")
