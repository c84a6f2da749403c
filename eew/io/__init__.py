"""Serialisation of pipeline results."""
