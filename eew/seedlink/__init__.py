"""SeedLink 3.1: an asyncio client for live ingestion and an archive server for tests.

Layout
------
:mod:`eew.seedlink.protocol`
    Pure functions: frames, commands, selectors, sequence numbers, INFO XML.
:mod:`eew.seedlink.records`
    miniSEED 2 byte surgery: INFO text records, start-time shifting, synthetic archives.
:mod:`eew.seedlink.feed`
    An indexed archive as a paced ring of packets with global sequence numbers.
:mod:`eew.seedlink.server`, :mod:`eew.seedlink.plan`
    The asyncio SeedLink server behind ``eew serve``; what one connection sends.
:mod:`eew.seedlink.client` (+ ``session``, ``link``, ``spec``)
    The asyncio client: selection, keepalive, reconnect, resume, statistics.
:mod:`eew.seedlink.tracking`
    Per-channel latency/gap bookkeeping and the resume state file of the client.

See ``docs/seedlink.md`` for the protocol subset and the policies.
"""
