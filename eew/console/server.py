"""The console's web server: aiohttp in a thread of its own, WebSocket to the browsers.

:class:`ConsoleServer` runs an asyncio loop in a daemon thread, apart from the processing:
the daemon's event loop and the replay's main thread never await the console, and the
console never calls into the chain. Each ``update_interval_s`` the server drains the
:class:`~eew.console.tap.ConsoleTap` into its :class:`~eew.console.state.ConsoleState`
and pushes to every browser: alerts at once, station states, the clock and the health
twice a second, the record section once a second. Each message is encoded once for all
browsers; every browser has its own queue of ``CLIENT_QUEUE`` messages (full: the oldest
non-alert message is dropped), so a slow browser only slows itself.

Routes: ``/`` the page, ``/static/...`` its script, style and map outlines, ``/ws`` the
WebSocket, ``/state`` the snapshot as JSON. With a token, ``/``, ``/ws`` and ``/state``
need it (``?token=`` or ``Authorization: Bearer``); the static files hold nothing secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from eew.console.state import ConsoleState, ms
from eew.console.tap import ConsoleTap
from eew.errors import EEWError

log = logging.getLogger("eew.console")

#: messages waiting for one browser at most
CLIENT_QUEUE = 64

HealthSource = Callable[[], dict[str, Any]]


class ConsoleError(EEWError):
    """The console could not start (address in use, unreadable token file)."""


class _Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[tuple[bool, str]] = asyncio.Queue(CLIENT_QUEUE)
        self.dropped = 0

    def put(self, text: str, keep: bool) -> None:
        q = self.queue
        while q.full():
            # drop the oldest message that is not an alert; if all are alerts, the oldest
            items = [q.get_nowait() for _ in range(q.qsize())]
            idx = next((i for i, (k, _t) in enumerate(items) if not k), 0)
            items.pop(idx)
            self.dropped += 1
            for item in items:
                q.put_nowait(item)
        q.put_nowait((keep, text))


class ConsoleServer:
    """Serve the console (see the module docstring).

    Parameters
    ----------
    tap : ConsoleTap
        What the chain hands over.
    state : ConsoleState
        The console's picture (owned by the server's thread from :meth:`start` on).
    now_ns : callable
        The processing clock [ns] (read from the server's thread: an int, atomically).
    host, port : str, int
        Where to listen (port 0: a free one; :attr:`port` tells which after start).
    token : str, optional
        Required from browsers when set.
    rate : float
        Data seconds per wall second (replay speed; 1 live); the browser extrapolates the
        clock between two updates with it.
    health : callable, optional
        Returns the bus and partner link health as a flat JSON-ready dict.
    update_interval_s : float
        How often the queues are drained and changes pushed [s].
    max_clients : int
        Browsers at once.
    """

    def __init__(
        self,
        tap: ConsoleTap,
        state: ConsoleState,
        now_ns: Callable[[], int],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        rate: float = 1.0,
        health: HealthSource | None = None,
        update_interval_s: float = 0.1,
        max_clients: int = 32,
    ) -> None:
        self.tap = tap
        self.state = state
        self.now_ns = now_ns
        self.host = host
        self.port = port
        self.token = token or None
        self.rate = rate
        self.health = health
        self.update_interval_s = update_interval_s
        self.max_clients = max_clients
        self.running = True
        self.clients: set[_Client] = set()
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        #: failures of the server thread after it started (shown to the operator by the log)
        self.crashes = 0
        self._static = Path(str(resources.files("eew.console") / "static"))

    # ---- life cycle (caller's thread) ---------------------------------------------------------
    @property
    def url(self) -> str:
        """The page's address (with the token, if there is one)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the thread and listen; return when the port is bound.

        Raises
        ------
        ConsoleError
            If the server could not listen.
        """
        self._thread = threading.Thread(target=self._main, name="eew-console", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ConsoleError("the console did not start in time")
        if self._error is not None:
            err = self._error
            raise ConsoleError(f"console on {self.host}:{self.port}: {err}") from err

    def wait_for_client(self, timeout_s: float) -> bool:
        """Block until a browser is connected (or ``timeout_s`` passed); True if one is."""
        return self._connected.wait(timeout_s)

    def finish(self) -> None:
        """The data ended (replay): the browsers' clock stops; they still get the state."""
        self.running = False

    def close(self, timeout_s: float = 5.0) -> None:
        """Push what is left, close every connection, stop the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ---- the server's thread ---------------------------------------------------------------
    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:
            # Thread boundary. Before the port is bound the error goes to start(), which
            # raises it in the caller. After that it must not propagate: the console is a
            # viewer, and its failure may never stop the processing chain that feeds it
            # (house rule: the console never slows or stops processing). It is logged with
            # its traceback and counted in ``crashes``.
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                self.crashes += 1
                self._error = exc
                log.exception("console server failed (crash %d); processing goes on", self.crashes)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/state", self._state_json)
        app.router.add_static("/static/", self._static)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            server = site._server  # the bound port when 0 was asked for
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
            self._ready.set()
            log.info("console listening", extra={"kv": {"url": self.url.split("?")[0]}})
            pump = asyncio.create_task(self._pump())
            await self._stop.wait()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self._step(final=True)
            for c in list(self.clients):
                await self._flush(c, 1.0)
                await c.ws.close()
        finally:
            await runner.cleanup()

    async def _pump(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.update_interval_s)
            n += 1
            self._step(periodic=n)

    def _step(self, periodic: int = 0, final: bool = False) -> None:
        """Drain the tap into the state; push alerts now, the rest on its period."""
        alerts, results, packets = self.tap.drain()
        st = self.state
        st.apply_packets(packets)
        st.apply_results(results)
        now = self.now_ns()
        for a in alerts:
            self._broadcast(st.apply_alert(a, now), keep=True)
        every = max(1, round(0.5 / self.update_interval_s))
        if final or periodic % every == 0:
            self._broadcast(self._clock(now))
            self._broadcast({"type": "stations", "states": st.station_states(now)})
            self._broadcast(self._health())
        if final or periodic % (2 * every) == 0:
            self._broadcast(st.traces(now))

    def _clock(self, now_ns: int) -> dict[str, Any]:
        return {
            "type": "clock",
            "now_ms": ms(now_ns),
            "rate": self.rate if self.running else 0.0,
            "running": self.running,
            "mode": self.state.mode,
        }

    def _health(self) -> dict[str, Any]:
        ts = self.tap.statistics()
        h: dict[str, Any] = dict(self.health()) if self.health is not None else {}
        h.update(
            {
                "console_packets": ts.packets,
                "console_dropped": ts.dropped_packets + ts.dropped_results + ts.dropped_alerts,
                "console_clients": len(self.clients),
            }
        )
        return {"type": "health", "health": h}

    def _broadcast(self, msg: dict[str, Any], keep: bool = False) -> None:
        if not self.clients:
            return
        text = json.dumps(msg, separators=(",", ":"), allow_nan=False)
        for c in self.clients:
            c.put(text, keep)

    async def _flush(self, c: _Client, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not c.queue.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    # ---- handlers ------------------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth.removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            raise web.HTTPUnauthorized(text="console: token required (?token=...)")
        return web.FileResponse(self._static / "index.html")

    async def _state_json(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            raise web.HTTPUnauthorized(text="console: token required")
        return web.json_response(self.state.snapshot(self.now_ns()))

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            raise web.HTTPUnauthorized(text="console: token required")
        if len(self.clients) >= self.max_clients:
            raise web.HTTPServiceUnavailable(text="console: too many connections")
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        client = _Client(ws)
        now = self.now_ns()
        client.put(json.dumps(self.state.snapshot(now), allow_nan=False), True)
        client.put(json.dumps(self._clock(now)), False)
        client.put(json.dumps(self._health()), False)
        client.put(json.dumps(self.state.traces(now)), False)
        self.clients.add(client)
        self.connections += 1
        self._connected.set()
        sender = asyncio.create_task(self._send(client))
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send(self, c: _Client) -> None:
        try:
            while True:
                _keep, text = await c.queue.get()
                await c.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return  # the browser went away; the handler cleans up
