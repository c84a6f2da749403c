"""The SeedLink archive server behind ``eew serve`` (demo, tests, training).

It plays an indexed miniSEED archive as a paced SeedLink ring; the live client that the
daemon uses lives apart from it in :mod:`eew.acquisition.seedlink` and shares only the
protocol functions of :mod:`eew.acquisition.seedlink.protocol`.

:mod:`~eew.archive_server.records`
    miniSEED 2 byte surgery: INFO text records, start-time shifting, synthetic archives.
:mod:`~eew.archive_server.feed`
    An indexed archive as a paced ring of packets with global sequence numbers.
:mod:`~eew.archive_server.server`, :mod:`~eew.archive_server.plan`
    The asyncio server and what one connection sends.
"""
