"""``eew bridge stomp|mqtt|cap``: forward the alert bus to ActiveMQ, MQTT or a CAP feed.

Every bridge subscribes to the alert bus like ``eew subscribe`` (same key options),
and runs until interrupted (SIGINT, SIGTERM) or ``--duration-s`` / ``--max-alerts``.
See ``docs/bridges.md``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eew.errors import CLIError

if TYPE_CHECKING:
    from eew.bridge.core import BridgeStatistics, Sink, TlsOptions
    from eew.bus.subscriber import Subscriber

logger = logging.getLogger(__name__)


def _bus_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("alert bus (as eew subscribe)")
    g.add_argument("endpoint", metavar="ENDPOINT", help="bus publisher, e.g. tcp://host:5571")
    g.add_argument("--curve-server-key", metavar="FILE", help="publisher's public CURVE key")
    g.add_argument("--curve-key", metavar="FILE", help="our CURVE certificate with secret key")
    g.add_argument("--trusted-keys", metavar="DIR", help="trusted agencies' .ed25519 keys")
    g.add_argument("--insecure", action="store_true", help="accept unsigned bus messages (tests)")
    g.add_argument(
        "--max-clock-skew-s", type=float, default=30.0, help="bus freshness limit [s] (inf: off)"
    )
    o = p.add_argument_group("bridge")
    o.add_argument(
        "--heartbeat-interval-s", type=float, default=5.0, help="heartbeat period [s] (5)"
    )
    o.add_argument("--sender", default="eew-bridge", help="name in heartbeats, client id")
    o.add_argument("--max-alerts", type=int, metavar="N", help="exit after N alerts")
    o.add_argument("--duration-s", type=float, metavar="S", help="exit after S seconds")


def _tls_arguments(p: argparse.ArgumentParser, server: bool = False) -> None:
    g = p.add_argument_group("TLS")
    g.add_argument("--tls", action="store_true", help="use TLS" + (" (HTTPS)" if server else ""))
    g.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="CA bundle: client certificates required" if server else "CA bundle of the broker",
    )
    g.add_argument(
        "--tls-cert", metavar="PEM", help="server certificate" if server else "client certificate"
    )
    g.add_argument("--tls-key", metavar="PEM", help="its private key")


def _broker_arguments(p: argparse.ArgumentParser, port: int) -> None:
    g = p.add_argument_group("broker")
    g.add_argument("--host", default="127.0.0.1", help="broker host (127.0.0.1)")
    g.add_argument("--port", type=int, default=port, help=f"broker port ({port})")
    g.add_argument("--username", help="broker user name")
    g.add_argument(
        "--password-file", metavar="FILE", help="file whose first line is the broker password"
    )
    g.add_argument(
        "--outbox-size", type=int, default=1000, help="alerts kept while the broker is away"
    )


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the ``stomp``, ``mqtt`` and ``cap`` bridges."""
    sub = parser.add_subparsers(dest="bridge", metavar="BRIDGE", required=True)
    p = sub.add_parser("stomp", help="ShakeAlert XML to ActiveMQ topics over STOMP")
    _bus_arguments(p)
    _broker_arguments(p, 61613)
    _tls_arguments(p)
    p.add_argument("--topic", default="/topic/eew.sys.dm.data", help="alert destination")
    p.add_argument(
        "--heartbeat-topic", default="/topic/eew.sys.dm.hb", help="heartbeat destination"
    )
    p.add_argument(
        "--stomp-heartbeat-ms", type=int, default=10000, help="STOMP heart-beats [ms] (0: off)"
    )
    p = sub.add_parser("mqtt", help="eew.alert/1 JSON to an MQTT broker, QoS 1, retained")
    _bus_arguments(p)
    _broker_arguments(p, 1883)
    _tls_arguments(p)
    p.add_argument("--prefix", default="eew", help="topic prefix (eew)")
    p.add_argument("--keepalive-s", type=int, default=30, help="MQTT keep-alive [s]")
    p.add_argument(
        "--retain-expiry-s", type=int, default=900, help="expiry of retained alerts [s] (0: never)"
    )
    p = sub.add_parser("cap", help="CAP 1.2 messages and their Atom index over HTTP(S)")
    _bus_arguments(p)
    _tls_arguments(p, server=True)
    p.add_argument("--listen", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (8080; 0: any free port)")
    p.add_argument("--public-url", help="base of the URLs in the feed (behind a proxy)")
    p.add_argument("--title", default="Earthquake early warnings", help="Atom feed title")
    p.add_argument(
        "--retention-s", type=float, default=86400.0, help="keep an event's messages this long"
    )


def _tls(args: argparse.Namespace) -> TlsOptions:
    from eew.bridge.core import TlsOptions

    given = args.tls_ca or args.tls_cert or args.tls_key
    if given and not args.tls:
        raise CLIError("--tls-ca/--tls-cert/--tls-key need --tls")
    if bool(args.tls_key) and not args.tls_cert:
        raise CLIError("--tls-key goes with --tls-cert")
    return TlsOptions(args.tls, args.tls_ca, args.tls_cert, args.tls_key)


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_file:
        return None
    try:
        lines = Path(args.password_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CLIError(f"--password-file: {exc}") from exc
    return lines[0] if lines else ""


def _broker(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the STOMP and MQTT sinks share, as keyword arguments of their configs."""
    return {
        "host": args.host,
        "port": args.port,
        "username": args.username,
        "password": _password(args),
        "tls": _tls(args),
        "sender": args.sender,
        "outbox_size": args.outbox_size,
    }


def _sink(args: argparse.Namespace) -> Sink:
    if args.bridge == "stomp":
        from eew.bridge.stomp import StompConfig, StompSink, check_config

        stomp_config = StompConfig(
            topic=args.topic,
            heartbeat_topic=args.heartbeat_topic,
            heartbeat_ms=args.stomp_heartbeat_ms,
            **_broker(args),
        )
        check_config(stomp_config)
        return StompSink(stomp_config)
    if args.bridge == "mqtt":
        from eew.bridge.mqtt import MqttConfig, MqttSink

        return MqttSink(
            MqttConfig(
                prefix=args.prefix,
                keepalive_s=args.keepalive_s,
                retain_expiry_s=args.retain_expiry_s,
                **_broker(args),
            )
        )
    from eew.bridge.capfeed import CapFeed
    from eew.bridge.http import CapSink
    from eew.model.clock import WallClock

    feed = CapFeed(
        WallClock(),
        title=args.title,
        retention_s=args.retention_s,
        heartbeat_timeout_s=3 * args.heartbeat_interval_s,
    )
    sink = CapSink(feed, args.listen, args.port, tls=_tls(args), public_url=args.public_url)
    print(f"eew bridge cap: serving {sink.base_url}/cap/feed.atom", file=sys.stderr, flush=True)
    return sink


def run(args: argparse.Namespace) -> int:
    """Run the chosen bridge until interrupted or a limit is reached."""
    from eew.bridge.core import run_bridge
    from eew.bus.config import SubscriberConfig
    from eew.bus.signing import Verifier
    from eew.bus.subscriber import CurveClient, Subscriber
    from eew.model.clock import WallClock

    if args.trusted_keys is None and not args.insecure:
        raise CLIError("--trusted-keys DIR is required (or --insecure for unsigned test feeds)")
    if bool(args.curve_server_key) != bool(args.curve_key):
        raise CLIError("--curve-server-key and --curve-key go together")
    verifier = Verifier.from_dir(args.trusted_keys) if args.trusted_keys else None
    curve = (
        CurveClient.from_files(args.curve_key, args.curve_server_key) if args.curve_key else None
    )
    config = SubscriberConfig(max_clock_skew_s=args.max_clock_skew_s)
    try:
        config.check()
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    clock = WallClock()

    def open_subscriber() -> Subscriber:
        return Subscriber(
            args.endpoint,
            verifier=verifier,
            clock=clock,
            config=config,
            curve=curve,
            kinds=("alert",),
        )

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stats = run_bridge(
            open_subscriber,
            _sink(args),
            clock,
            heartbeat_interval_s=args.heartbeat_interval_s,
            stop=stop,
            duration_s=args.duration_s,
            max_alerts=args.max_alerts,
        )
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    _report(args.bridge, stats)
    return 0


def _report(name: str, stats: BridgeStatistics) -> None:
    s = stats.sink
    print(
        f"eew bridge {name}: {stats.alerts} alert(s) from the bus; {s.sent} sent, "
        f"{s.confirmed} confirmed, {s.queued} queued, {s.dropped} dropped, "
        f"{s.heartbeats} heartbeat(s), {s.reconnects} reconnection(s)",
        file=sys.stderr,
    )
