"""Station metadata: per-channel coordinates, sample rate, sensitivity and input unit.

StationXML files are read once, with :func:`obspy.read_inventory`, into flat, immutable
:class:`ChannelInfo` records (one per channel epoch) collected in an :class:`Inventory`.
The rest of the pipeline only sees these records, never ObsPy objects.

Modules: :mod:`~eew.inventory.channel` (the :class:`ChannelInfo` value, units, epochs),
:mod:`~eew.inventory.collection` (:class:`Inventory`, :func:`load_inventory`) and
:mod:`~eew.inventory.stationxml` (the StationXML reader, the only one that imports obspy).

Everything that makes a channel unusable for the pipeline is an error at load time, not a
silent default: a missing sensitivity, sample rate, frequency or orientation, an input unit
other than displacement, velocity or acceleration in metres, an unreadable file, or two
files that disagree about the same channel epoch. Every message names the file and the
channel.

Epochs are half-open intervals ``[start_ns, end_ns)`` in integer nanoseconds since
1970-01-01 UTC; ``None`` means open (no start or no end). The epochs of one channel must not
overlap, so that :meth:`Inventory.get` is unambiguous.

Examples
--------
>>> from eew.inventory import load_inventory
>>> inventory = load_inventory(["stations/almaty_aews.xml"])  # doctest: +SKIP
>>> inventory.get("AW.ALMY..HHZ").sensitivity  # doctest: +SKIP
629145600.0
"""

from eew.inventory.channel import COUNT_UNITS, ChannelInfo, format_epoch, normalise_input_units
from eew.inventory.collection import Inventory, load_inventory

__all__ = [
    "COUNT_UNITS",
    "ChannelInfo",
    "Inventory",
    "format_epoch",
    "load_inventory",
    "normalise_input_units",
]
