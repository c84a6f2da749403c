"""Reading StationXML into :class:`~eew.inventory.channel.ChannelInfo` records (with obspy).

:func:`read_stationxml` turns one file into one record per channel epoch; everything that
makes a channel unusable is an :class:`~eew.errors.InventoryError` naming the file and the
channel (:func:`eew.inventory.load_inventory` collects the records and is what callers use).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path

import obspy
from obspy.core.inventory import Channel

from eew.errors import InventoryError
from eew.inventory.channel import COUNT_UNITS, ChannelInfo, format_epoch, normalise_input_units
from eew.inventory.issues import InventoryIssues

log = logging.getLogger("eew.inventory")


class _UnusableError(InventoryError):
    """A channel epoch the pipeline cannot use; ``cause`` is an InventoryIssues field."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def _channel_info(path: str, network: str, station: str, channel: Channel) -> ChannelInfo:
    """Convert one ObsPy channel epoch to a :class:`ChannelInfo`.

    Parameters
    ----------
    path : str
        File the channel was read from (for messages).
    network, station : str
        Network and station codes.
    channel : obspy.core.inventory.Channel
        The channel epoch.

    Returns
    -------
    ChannelInfo
        The record.

    Raises
    ------
    InventoryError
        (a private subclass with the cause) If the sample rate, sensitivity, its frequency
        or units, or the orientation are missing or invalid. The message names the file,
        the channel and its epoch.
    """
    location = (channel.location_code or "").strip()
    channel_id = f"{network}.{station}.{location}.{channel.code}"
    start_ns = None if channel.start_date is None else int(channel.start_date.ns)
    end_ns = None if channel.end_date is None else int(channel.end_date.ns)
    where = f"{path}: channel {channel_id} ({format_epoch(start_ns, end_ns)})"

    sensitivity = None if channel.response is None else channel.response.instrument_sensitivity
    if channel.response is None:
        raise _UnusableError(f"{where}: no response", "no_sensitivity")
    if sensitivity is None or sensitivity.value is None:
        raise _UnusableError(f"{where}: no instrument sensitivity", "no_sensitivity")
    if sensitivity.frequency is None:
        raise _UnusableError(
            f"{where}: the instrument sensitivity has no frequency", "no_sensitivity"
        )
    if not sensitivity.input_units:
        raise _UnusableError(
            f"{where}: the instrument sensitivity has no input unit", "no_sensitivity"
        )
    value = float(sensitivity.value)
    if not (math.isfinite(value) and value > 0.0):
        raise _UnusableError(f"{where}: sensitivity {value!r} is not positive", "zero_sensitivity")
    output_units = sensitivity.output_units
    if output_units and output_units.strip().upper() not in COUNT_UNITS:
        raise _UnusableError(
            f"{where}: sensitivity output unit {output_units!r} is not counts", "unsupported_unit"
        )
    try:
        input_units = normalise_input_units(sensitivity.input_units)
    except InventoryError as exc:
        raise _UnusableError(f"{where}: {exc}", "unsupported_unit") from exc
    if not channel.sample_rate:
        raise _UnusableError(f"{where}: no sample rate", "invalid")
    if channel.azimuth is None or channel.dip is None:
        raise _UnusableError(f"{where}: no azimuth or dip", "invalid")
    try:
        return ChannelInfo(
            channel_id=channel_id,
            network=network,
            station=station,
            location=location,
            channel=channel.code,
            latitude_deg=float(channel.latitude),
            longitude_deg=float(channel.longitude),
            elevation_m=float(channel.elevation),
            depth_m=float(channel.depth),
            sampling_rate_hz=float(channel.sample_rate),
            sensitivity=float(sensitivity.value),
            sensitivity_frequency_hz=float(sensitivity.frequency),
            input_units=input_units,
            azimuth_deg=float(channel.azimuth),
            dip_deg=float(channel.dip),
            start_ns=start_ns,
            end_ns=end_ns,
        )
    except InventoryError as exc:
        raise _UnusableError(f"{where}: {exc}", "invalid") from exc


def read_stationxml(path: str) -> tuple[list[ChannelInfo], InventoryIssues]:
    """Read every channel epoch of one station file.

    Parameters
    ----------
    path : str
        StationXML file (or any format :func:`obspy.read_inventory` detects).

    Returns
    -------
    infos : list of ChannelInfo
        The usable channel epochs in file order.
    issues : InventoryIssues
        The epochs set aside, by cause (each was logged once, with the file and channel).

    Raises
    ------
    InventoryError
        If the file is missing, cannot be parsed or holds no channel.
    """
    if not Path(path).is_file():
        raise InventoryError(f"{path}: station file not found")
    try:
        parsed = obspy.read_inventory(path)
    except Exception as exc:  # any parser failure: re-raised with the file named
        raise InventoryError(
            f"{path}: cannot read station file ({type(exc).__name__}: {exc})"
        ) from exc
    infos: list[ChannelInfo] = []
    causes: Counter[str] = Counter()
    n_channels = 0
    for network in parsed:
        for station in network:
            for channel in station:
                n_channels += 1
                try:
                    infos.append(_channel_info(path, network.code, station.code, channel))
                except _UnusableError as exc:
                    causes[exc.cause] += 1
                    log.warning("%s; channel epoch set aside", exc)
    if not n_channels:
        raise InventoryError(f"{path}: no channels (a station-level file?)")
    return infos, InventoryIssues(**causes)
