"""Reading StationXML into :class:`~eew.inventory.channel.ChannelInfo` records (with obspy).

:func:`read_stationxml` turns one file into one record per channel epoch; everything that
makes a channel unusable is an :class:`~eew.errors.InventoryError` naming the file and the
channel (:func:`eew.inventory.load_inventory` collects the records and is what callers use).
"""

from __future__ import annotations

from pathlib import Path

import obspy
from obspy.core.inventory import Channel

from eew.errors import InventoryError
from eew.inventory.channel import COUNT_UNITS, ChannelInfo, format_epoch, normalise_input_units


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
        If the sample rate, sensitivity, its frequency or units, or the orientation are
        missing or invalid. The message names the file, the channel and its epoch.
    """
    location = (channel.location_code or "").strip()
    channel_id = f"{network}.{station}.{location}.{channel.code}"
    start_ns = None if channel.start_date is None else int(channel.start_date.ns)
    end_ns = None if channel.end_date is None else int(channel.end_date.ns)
    where = f"{path}: channel {channel_id} ({format_epoch(start_ns, end_ns)})"

    sensitivity = None if channel.response is None else channel.response.instrument_sensitivity
    if sensitivity is None or sensitivity.value is None:
        raise InventoryError(f"{where}: no instrument sensitivity")
    if sensitivity.frequency is None:
        raise InventoryError(f"{where}: the instrument sensitivity has no frequency")
    if not sensitivity.input_units:
        raise InventoryError(f"{where}: the instrument sensitivity has no input unit")
    output_units = sensitivity.output_units
    if output_units and output_units.strip().upper() not in COUNT_UNITS:
        raise InventoryError(f"{where}: sensitivity output unit {output_units!r} is not counts")
    if not channel.sample_rate:
        raise InventoryError(f"{where}: no sample rate")
    if channel.azimuth is None or channel.dip is None:
        raise InventoryError(f"{where}: no azimuth or dip")
    try:
        input_units = normalise_input_units(sensitivity.input_units)
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
        raise InventoryError(f"{where}: {exc}") from exc


def read_stationxml(path: str) -> list[ChannelInfo]:
    """Read every channel epoch of one station file.

    Parameters
    ----------
    path : str
        StationXML file (or any format :func:`obspy.read_inventory` detects).

    Returns
    -------
    list of ChannelInfo
        The channel epochs in file order.

    Raises
    ------
    InventoryError
        If the file is missing, cannot be parsed, holds no channel, or a channel is
        unusable (see :func:`_channel_info`).
    """
    if not Path(path).is_file():
        raise InventoryError(f"{path}: station file not found")
    try:
        parsed = obspy.read_inventory(path)
    except Exception as exc:  # any parser failure: re-raised with the file named
        raise InventoryError(
            f"{path}: cannot read station file ({type(exc).__name__}: {exc})"
        ) from exc
    infos = [
        _channel_info(path, network.code, station.code, channel)
        for network in parsed
        for station in network
        for channel in station
    ]
    if not infos:
        raise InventoryError(f"{path}: no channels (a station-level file?)")
    return infos
