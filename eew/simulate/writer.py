"""miniSEED output: one file per channel, 512-byte miniSEED 2 records, Steim-2 int32 counts.

Records are packed with pymseed (libmseed). Records that hold calibration samples get
activity-flag bit 0 ("calibration signals present", SEED manual, fixed-header field 12)
set in their fixed header; sequence numbers run from 1 within each file.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from obspy import UTCDateTime

from eew.simulate.disturb import ChannelData

RECORD_LENGTH = 512
_ACTIVITY_FLAGS_OFFSET = 36
_NUM_SAMPLES_OFFSET = 30


def _records(sourceid: str, start: UTCDateTime, fs: float, data: np.ndarray) -> list[bytes]:
    from pymseed import DataEncoding, MS3Record

    msr = MS3Record()
    msr.reclen = RECORD_LENGTH
    msr.formatversion = 2
    msr.encoding = DataEncoding.STEIM2
    msr.sourceid = sourceid
    msr.samprate = fs
    msr.set_starttime_str(start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return list(msr.generate(np.ascontiguousarray(data, dtype=np.int32), "i"))


def mseed_bytes(data: ChannelData, start_time: UTCDateTime) -> bytes:
    """Pack one channel (all its segments) into miniSEED bytes."""
    net, sta, loc, cha = data.channel.nslc
    sourceid = f"FDSN:{net}_{sta}_{loc}_{cha[0]}_{cha[1]}_{cha[2]}"
    fs = data.sampling_rate_hz
    out = bytearray()
    seq = 0
    for a, b in data.segments:
        if b <= a:
            continue
        t0 = start_time + a / fs + data.time_offset_s
        first = a
        for record in _records(sourceid, t0, fs, data.counts[a:b]):
            rec = bytearray(record)
            seq += 1
            rec[0:6] = f"{seq % 1000000:06d}".encode()
            nsamp = struct.unpack(">H", rec[_NUM_SAMPLES_OFFSET : _NUM_SAMPLES_OFFSET + 2])[0]
            last = first + nsamp
            if any(c0 < last and c1 > first for c0, c1 in data.calibration):
                rec[_ACTIVITY_FLAGS_OFFSET] |= 0x01
            first = last
            out += rec
    return bytes(out)


def write_channel(data: ChannelData, start_time: UTCDateTime, out_dir: Path) -> Path:
    """Write ``NET.STA.LOC.CHA.mseed`` into ``out_dir`` and return its path."""
    path = out_dir / f"{data.channel.channel_id}.mseed"
    path.write_bytes(mseed_bytes(data, start_time))
    return path
