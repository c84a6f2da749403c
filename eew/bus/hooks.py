"""Run an external command for each alert, without holding up reception.

A :class:`HookRunner` feeds a bounded queue to one worker thread that runs the
command with the message on stdin. A hook that outlives its timeout is killed
with its whole process group. When the queue is full the oldest pending run
is dropped (counted, logged at ERROR): reception never waits for hooks. What a run
writes (stdout and stderr) is handed, line by line, to an ``on_output`` callback when one
is given (``eew subscribe`` shows it with a prefix), after the run ends or is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from eew.bus.errors import BusError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HookStatistics:
    """Counters of a :class:`HookRunner`."""

    queued: int
    succeeded: int
    failed: int
    timed_out: int
    dropped: int
    crashes: int = 0


class HookRunner:
    """Run ``command`` once per submitted message, in a worker thread.

    Parameters
    ----------
    command : sequence of str
        Program and arguments (no shell; wrap in ``sh -c '...'`` for pipes).
    timeout_s : float
        Kill a run after this long [s].
    queue_size : int
        Pending runs kept; the oldest is dropped when full.
    on_output : callable, optional
        Called (in the worker thread) with each line a run wrote, as
        ``on_output(line, "stdout" | "stderr")``; without it the output is logged at DEBUG.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout_s: float = 10.0,
        queue_size: int = 64,
        on_output: Callable[[str, str], None] | None = None,
    ) -> None:
        if not command:
            raise BusError("empty hook command")
        if not timeout_s > 0:
            raise BusError(f"hook timeout must be positive, not {timeout_s}")
        self._on_output = on_output
        self._command = list(command)
        self._timeout_s = timeout_s
        self._queue: deque[tuple[bytes, dict[str, str]]] = deque(maxlen=queue_size)
        self._cond = threading.Condition()
        self._counts = dict.fromkeys(("succeeded", "failed", "timed_out", "dropped", "crashes"), 0)
        self._stop = False
        self._error: BaseException | None = None
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="eew-hook", daemon=True)
        self._thread.start()

    def submit(self, data: bytes, env: Mapping[str, str] | None = None) -> bool:
        """Queue one run with ``data`` on stdin; False if an older pending run was dropped."""
        self.check()
        with self._cond:
            full = len(self._queue) == self._queue.maxlen
            if full:
                self._counts["dropped"] += 1
                logger.error("hook queue full: dropped the oldest pending hook run")
            self._queue.append((data, dict(env or {})))
            self._cond.notify()
        return not full

    def check(self) -> None:
        """Raise :class:`BusError` if the worker thread died."""
        if self._error is not None:
            raise BusError(f"hook worker died: {self._error!r}") from self._error

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every queued run has finished; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout_s)

    def statistics(self) -> HookStatistics:
        """Snapshot of the counters."""
        with self._cond:
            return HookStatistics(queued=len(self._queue), **self._counts)

    def close(self, timeout_s: float = 30.0) -> None:
        """Let queued runs finish (each within its timeout), then stop the worker."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        self.check()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait_for(lambda: self._queue or self._stop)
                    if not self._queue:
                        return
                    data, env = self._queue.popleft()
                    self._busy = True
                outcome = self._execute(data, env)
                with self._cond:
                    self._counts[outcome] += 1
        except Exception as exc:  # thread boundary: kept and re-raised to the subscriber loop
            logger.exception("hook worker crashed")
            with self._cond:
                self._counts["crashes"] += 1
            self._error = exc

    def _execute(self, data: bytes, env: dict[str, str]) -> str:
        try:
            proc = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, **env},
                start_new_session=True,  # its own process group, killed as a whole on timeout
            )
        except OSError as exc:
            logger.error("hook %s cannot start: %s", self._command[0], exc)
            return "failed"
        try:
            out, err = proc.communicate(data, timeout=self._timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            self._pass_on(out, err)
            logger.error("hook %s killed after %.1f s", self._command[0], self._timeout_s)
            return "timed_out"
        self._pass_on(out, err)
        if proc.returncode != 0:
            logger.error(
                "hook %s exited with status %d: %s",
                self._command[0],
                proc.returncode,
                err.decode("utf-8", "replace").strip()[-500:],
            )
            return "failed"
        if self._on_output is None:
            logger.debug("hook ok: %s", out.decode("utf-8", "replace").strip()[-200:])
        return "succeeded"

    def _pass_on(self, out: bytes | None, err: bytes | None) -> None:
        if self._on_output is None:
            return
        for data, stream in ((out, "stdout"), (err, "stderr")):
            for line in (data or b"").decode("utf-8", "replace").splitlines():
                self._on_output(line, stream)
