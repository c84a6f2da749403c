"""The one exception hierarchy of the pipeline.

Every error the package raises on purpose derives from :class:`EEWError`, so
callers (the daemon, the CLI) can tell "our" failures from programming errors
without catching everything. Errors propagate; nothing is swallowed silently.
"""

from __future__ import annotations


class EEWError(Exception):
    """Base class of all errors raised by the EEW pipeline."""


class ConfigError(EEWError):
    """A configuration file or value is invalid.

    The message always names the offending key and, when known, the file.
    """


class InventoryError(EEWError):
    """Station metadata are missing, unreadable or inconsistent."""


class DataError(EEWError):
    """A waveform record or packet cannot be used (corrupt, truncated, inconsistent)."""


class CLIError(EEWError):
    """A command-line usage error; the CLI prints it and exits with status 2."""


class ChannelError(EEWError):
    """One channel cannot be processed (its sample rate, unit or metadata).

    The router sets such a channel aside with one log line and a counter; the run goes on.
    """


#: exit status of a temporary failure (``EX_TEMPFAIL`` of sysexits.h): try again later
EXIT_TEMPFAIL = 75


class EndpointInUseError(EEWError):
    """A port the daemon must listen on is held by another process.

    Temporary, not a configuration error: the CLI prints it in one line and exits with
    :data:`EXIT_TEMPFAIL` (75), so that systemd restarts the daemon.
    """
