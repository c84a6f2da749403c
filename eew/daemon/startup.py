"""Start-up checks of the daemon: ports held by others, sections a role ignores.

* A port already in use (``bus.endpoint``, ``partner.export_endpoint``,
  ``daemon.metrics_listen``, ``console.port``) is a temporary condition, not a
  configuration error: :func:`listening` turns the bind failure into an
  :class:`~eew.errors.EndpointInUseError` naming the endpoint and the ``section.key``,
  which ``eew run`` reports in one line with exit status 75 (``EX_TEMPFAIL``), so that
  systemd restarts the daemon (the unit refuses to restart only on status 2).
* A section of the file that the daemon's role does not read is a WARNING
  (:func:`ignored_sections`): ``[partner]`` in the station role, ``[seedlink]`` in the
  central role, ``[upstream]`` outside it.
* ``[seedlink] tls_ca_file`` that cannot be read as PEM certificates is a configuration
  error (:func:`ca_context`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

from eew.daemon.config import Settings
from eew.errors import ConfigError, EndpointInUseError

log = logging.getLogger("eew.daemon")

#: role -> sections of the file that role does not read (the event core's sections in
#: the station role, the per-channel ones in the central role); ``[seedlink] state_file``
#: is read by every role (it also names the event state, :mod:`eew.daemon.eventstate`)
IGNORED: dict[str, tuple[str, ...]] = {
    "station": ("upstream", "partner", "event", "onsite"),
    "central": ("seedlink", "processing", "trigger", "picker", "rejection"),
    "all": ("upstream",),
}

#: keys of an ignored section that are read all the same
_ALWAYS_READ = frozenset({"seedlink.state_file"})


def ignored_sections(settings: Settings) -> list[tuple[str, list[str]]]:
    """The sections the file sets that the settings' role ignores, with their keys.

    Only keys written in the file count (a section left at its defaults is not reported).
    """
    keys = settings.config.set_keys
    out: list[tuple[str, list[str]]] = []
    for section in IGNORED.get(settings.daemon.role, ()):
        prefix = section + "."
        found = sorted(
            k.removeprefix(prefix) for k in keys if k.startswith(prefix) and k not in _ALWAYS_READ
        )
        if found:
            out.append((section, found))
    return out


def warn_ignored_sections(settings: Settings) -> int:
    """Log one WARNING per section the role ignores; return how many."""
    found = ignored_sections(settings)
    for section, keys in found:
        log.warning(
            "configuration section ignored",
            extra={
                "kv": {
                    "section": f"[{section}]",
                    "role": settings.daemon.role,
                    "keys": ",".join(keys),
                    "file": settings.source,
                }
            },
        )
    return len(found)


def address_in_use(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception in its chain is "address already in use"."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if getattr(e, "errno", None) == errno.EADDRINUSE:
            return True
        e = e.__cause__ or e.__context__
    return False


@contextlib.contextmanager
def listening(key: str, endpoint: str) -> Iterator[None]:
    """Turn "address already in use" inside the block into an :class:`EndpointInUseError`.

    Parameters
    ----------
    key : str
        ``section.key`` the endpoint comes from (``bus.endpoint``...).
    endpoint : str
        The endpoint as configured.
    """
    try:
        yield
    except Exception as exc:  # any bind failure (OSError, ZMQError...): re-raised below
        if address_in_use(exc):
            raise EndpointInUseError(
                f"{key} = {endpoint!r}: address already in use (another process listens "
                "there); exit status 75, a supervisor may retry"
            ) from exc
        raise


def ca_context(cafile: Path | None) -> ssl.SSLContext | None:
    """A client TLS context trusting ``cafile`` (``[seedlink] tls_ca_file``); None: system CAs.

    Raises
    ------
    ConfigError
        If the file cannot be read as PEM certificates.
    """
    if cafile is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(cafile))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[seedlink] tls_ca_file {str(cafile)!r}: {exc}") from exc
