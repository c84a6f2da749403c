"""The subscriber's screen: alert blocks whose countdown ticks, and lines above them.

:class:`AlertScreen` writes one block per alert (:func:`eew.formats.screen.alert_block`).
In *live* mode (a terminal) the newest block stays at the bottom and is redrawn in place
while the S waves are on their way (each second of the countdown) and when a newer
version of the same event arrives; another event's alert starts a new block below.
Anything else (hook output, picks, feed warnings, log lines) is written above it with
:meth:`AlertScreen.line`. Redrawing uses two ANSI
sequences only: *cursor to the start of the line N lines up* (``ESC [ N F``) and *erase to
the end of the screen* (``ESC [ J``); lines are cut to the terminal width so that none
wraps and the count stays right. In plain mode every block is printed once, as it was at
its arrival (for logs, pipes and files).

Thread-safe: the hook worker and the log write through :meth:`AlertScreen.line`.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Sequence
from typing import TextIO

from eew.formats.screen import alert_block, choose_targets, seconds_left
from eew.model.alert import Alert

#: move up N lines to the first column, then erase to the end of the screen
_ERASE = "\x1b[{n}F\x1b[J"


class AlertScreen:
    """Alert blocks on ``stream``, live (redrawn) or plain.

    Parameters
    ----------
    stream : TextIO
        Where to write (stdout).
    now_ns : callable
        The clock of the countdowns [ns since the epoch].
    live : bool
        Redraw the newest block while its countdown runs (a terminal).
    lang : str
        Language of the texts (``kk``, ``ru``, ``en``, ``ky``).
    targets : sequence of str, optional
        Targets shown, in this order (default: the nearest five to the epicentre).
    width : int, optional
        Terminal width (default: asked at each redraw in live mode; no limit in plain mode).
    """

    def __init__(
        self,
        stream: TextIO,
        now_ns: Callable[[], int],
        *,
        live: bool,
        lang: str = "en",
        targets: Sequence[str] | None = None,
        width: int | None = None,
    ) -> None:
        self._out = stream
        self._now_ns = now_ns
        self.live = live
        self._lang = lang
        self._targets = list(targets) if targets else None
        self._width = width
        self._lock = threading.RLock()
        self._alert: Alert | None = None  # the live block's alert
        self._shown: list[str] = []  # the live block's lines as drawn
        self.redraws = 0

    # ---- public -----------------------------------------------------------------------
    def alert(self, alert: Alert) -> None:
        """Show one alert (a newer version of the live event replaces its block)."""
        with self._lock:
            if not self.live:
                self._write(self._lines(alert))
                return
            same = self._alert is not None and (
                (self._alert.agency, self._alert.event_id) == (alert.agency, alert.event_id)
            )
            if same:
                self._erase()
            self._alert, self._shown = alert, []
            self._draw()

    def line(self, text: str) -> None:
        """A line above the live block (hook output, picks, warnings)."""
        with self._lock:
            shown = self._shown
            self._erase()
            self._write(text.splitlines() or [""])
            if self._alert is not None and shown:
                self._draw()

    def tick(self) -> None:
        """Redraw the live block if its text changed (the countdown moved on)."""
        with self._lock:
            if self._alert is None:
                return
            if self._lines(self._alert) != self._shown:
                self._erase()
                self._draw()

    @property
    def ticking(self) -> bool:
        """Whether the live block's countdown still runs (S waves on their way somewhere)."""
        with self._lock:
            alert = self._alert
            if alert is None or alert.message_type == "delete":
                return False
            now = self._now_ns()
            shown = choose_targets(alert, self._targets)
            return any(seconds_left(t, now) is not None for t in shown)

    # ---- drawing ------------------------------------------------------------------------
    def _lines(self, alert: Alert) -> list[str]:
        width = self._width
        if width is None and self.live:
            width = shutil.get_terminal_size((100, 24)).columns
        shown = choose_targets(alert, self._targets)
        return ["", *alert_block(alert, self._now_ns(), shown, self._lang, width)]

    def _draw(self) -> None:
        assert self._alert is not None
        self._shown = self._lines(self._alert)
        self._write(self._shown)
        self.redraws += 1

    def _erase(self) -> None:
        if self._shown:
            self._out.write(_ERASE.format(n=len(self._shown)))
            self._shown = []

    def _write(self, lines: list[str]) -> None:
        self._out.write("\n".join(lines) + "\n")
        self._out.flush()


class ScreenStream:
    """A text stream whose complete lines go to :meth:`AlertScreen.line` (for a log handler)."""

    def __init__(self, screen: AlertScreen) -> None:
        self._screen = screen
        self._buf = ""

    def write(self, text: str) -> int:
        """Buffer ``text``; hand each complete line to the screen."""
        self._buf += text
        *done, self._buf = self._buf.split("\n")
        for ln in done:
            self._screen.line(ln)
        return len(text)

    def flush(self) -> None:
        """Nothing is held but an incomplete line."""
