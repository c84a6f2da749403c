"""The SeedLink archive server behind ``eew serve`` (demo, tests, training).

It plays an indexed miniSEED archive as a paced SeedLink ring; the live client that the
daemon uses lives apart from it in :mod:`eew.acquisition.seedlink` and shares only the
protocol functions of :mod:`eew.acquisition.seedlink.protocol` (SeedLink 3.1) and
:mod:`eew.acquisition.seedlink.v4` (SeedLink 4.0).

:mod:`~eew.archive_server.records`
    miniSEED 2 byte surgery: INFO text records, start-time shifting, synthetic archives,
    conversion to miniSEED 3.
:mod:`~eew.archive_server.feed`
    An indexed archive as a paced ring of packets with global sequence numbers.
:mod:`~eew.archive_server.server`, :mod:`~eew.archive_server.plan`
    The asyncio server (3.1 and 4.0, optional TLS) and what one connection sends.
:mod:`~eew.archive_server.handshake4`
    The SeedLink 4.0 commands of a connection.
"""
