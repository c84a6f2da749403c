"""Station metadata: per-channel coordinates, sample rate, sensitivity and input unit.

StationXML files are read once, with :func:`obspy.read_inventory`, into flat, immutable
:class:`ChannelInfo` records (one per channel epoch) collected in an :class:`Inventory`.
The rest of the pipeline only sees these records, never ObsPy objects.

Modules: :mod:`~eew.inventory.channel` (the :class:`ChannelInfo` value, units, epochs),
:mod:`~eew.inventory.collection` (:class:`Inventory`, :func:`load_inventory`) and
:mod:`~eew.inventory.stationxml` (the StationXML reader, the only one that imports obspy).

A problem with one channel epoch never stops the load, and is never a silent default: a
missing response, sensitivity, sample rate, frequency or orientation, a sensitivity that is
not positive, or an input unit other than displacement, velocity or acceleration in metres
sets that epoch aside; two definitions of one epoch, or overlapping epochs, are resolved
(the later wins). Each case is one warning naming the file and the channel, counted in
:attr:`Inventory.issues` (:class:`InventoryIssues`). A missing or unreadable file, or one
without channels, is an :class:`~eew.errors.InventoryError`.

Epochs are half-open intervals ``[start_ns, end_ns)`` in integer nanoseconds since
1970-01-01 UTC; ``None`` means open (no start or no end). The epochs of one channel do not
overlap once loaded, so that :meth:`Inventory.get` is unambiguous; :meth:`Inventory.match`
finds the metadata of a record whose channel or time disagrees with the inventory.

Examples
--------
>>> from eew.inventory import load_inventory
>>> inventory = load_inventory(["stations/almaty_aews.xml"])  # doctest: +SKIP
>>> inventory.get("AW.ALMY..HHZ").sensitivity  # doctest: +SKIP
629145600.0
"""

from eew.inventory.channel import COUNT_UNITS, ChannelInfo, format_epoch, normalise_input_units
from eew.inventory.collection import ChannelMatch, Inventory, load_inventory
from eew.inventory.issues import InventoryIssues

__all__ = [
    "COUNT_UNITS",
    "ChannelInfo",
    "ChannelMatch",
    "Inventory",
    "InventoryIssues",
    "format_epoch",
    "load_inventory",
    "normalise_input_units",
]
