"""What the inventory loader set aside or corrected: :class:`InventoryIssues`.

A station file is read channel epoch by channel epoch. A problem that concerns one channel
epoch never stops the load: the epoch is set aside (or, for conflicting epochs, resolved)
with one warning that names the file and the channel, and counted here. Only a problem
with a whole file (missing, unreadable, no channel at all) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["InventoryIssues"]


@dataclass(frozen=True, slots=True)
class InventoryIssues:
    """Counts of channel epochs set aside or corrected while loading, by cause.

    Attributes
    ----------
    no_sensitivity : int
        Epochs without a response or an overall sensitivity (value, frequency or input unit
        missing): set aside, their counts cannot be turned into ground motion.
    zero_sensitivity : int
        Epochs whose sensitivity is zero, negative or not finite: set aside.
    unsupported_unit : int
        Epochs whose input unit is not m, m/s or m/s**2, or whose output is not counts:
        set aside.
    invalid : int
        Epochs otherwise unusable (no sample rate, no orientation, coordinates out of range,
        an epoch that ends before it starts): set aside.
    overlapping_epochs : int
        Pairs of overlapping epochs of one channel: the later-starting epoch applies from
        its start and the earlier one ends there.
    conflicting_epochs : int
        The same epoch defined twice with different metadata: the definition read last
        (the later file) is used.
    """

    no_sensitivity: int = 0
    zero_sensitivity: int = 0
    unsupported_unit: int = 0
    invalid: int = 0
    overlapping_epochs: int = 0
    conflicting_epochs: int = 0

    def as_dict(self) -> dict[str, int]:
        """The non-zero counters, by name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @property
    def set_aside(self) -> int:
        """Channel epochs set aside (all causes but the resolved epoch conflicts)."""
        return self.no_sensitivity + self.zero_sensitivity + self.unsupported_unit + self.invalid

    def __add__(self, other: InventoryIssues) -> InventoryIssues:
        if not isinstance(other, InventoryIssues):
            return NotImplemented
        return InventoryIssues(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )
