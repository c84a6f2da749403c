"""The value and message types every stage shares (the bottom of the house).

Nothing here imports a stage: acquisition, detection, the event core, the bus, the formats
and the daemon all import :mod:`eew.model`, and it imports only :mod:`eew.errors`.

:mod:`~eew.model.packet`
    :class:`~eew.model.packet.Packet`, one decoded record of one channel.
:mod:`~eew.model.pick`
    :class:`~eew.model.pick.Pick` and the rejected-trigger record.
:mod:`~eew.model.alert`
    :class:`~eew.model.alert.Alert`, the canonical ``eew.alert/1`` message.
:mod:`~eew.model.timeutil`
    Integer nanoseconds since the epoch and ISO 8601 text (``NS_PER_S``, ``EPOCH``).
:mod:`~eew.model.geo`
    Great-circle distances on the mean sphere (``EARTH_RADIUS_KM``, ``KM_PER_DEG``).
:mod:`~eew.model.clock`
    The :class:`~eew.model.clock.Clock` protocol and the wall, data and manual clocks.
"""
