"""Getting waveform data in: miniSEED decoding, archive reading, the live SeedLink client.

:mod:`~eew.acquisition.scan`
    numba miniSEED 2 header scanner.
:mod:`~eew.acquisition.steim`
    numba Steim1/2 decoder.
:mod:`~eew.acquisition.mseed`
    Header parsing (miniSEED 3 via pymseed) and record decoding to packets.
:mod:`~eew.acquisition.archive`
    Archive files -> packets merged in SeedLink arrival order (``eew replay``).
:mod:`~eew.acquisition.seedlink`
    The asyncio SeedLink client of the daemon.

Both sources yield :class:`eew.model.packet.Packet` values; what processes them is wired
by :mod:`eew.assembly`.
"""
