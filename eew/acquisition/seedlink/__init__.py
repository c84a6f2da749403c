"""The live SeedLink client (asyncio) of the daemon: 4.0 where the server offers it, else 3.1.

:mod:`~eew.acquisition.seedlink.protocol`
    Pure functions: frames, commands, selectors, sequence numbers, INFO XML (shared with
    the archive server in :mod:`eew.archive_server`).
:mod:`~eew.acquisition.seedlink.v4`
    SeedLink 4.0: ``SE`` packet header, station/stream IDs, selectors, ISO times, JSON INFO.
:mod:`~eew.acquisition.seedlink.client` (+ ``session``, ``link``, ``spec``)
    Selection, keepalive, reconnect, resume, statistics.
:mod:`~eew.acquisition.seedlink.tracking`
    Per-channel latency/gap bookkeeping and the resume state file.

See ``docs/seedlink.md`` for the protocol subset and the policies.
"""
