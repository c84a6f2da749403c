"""Getting waveform data in: packets, miniSEED records, station metadata, archive replay."""
