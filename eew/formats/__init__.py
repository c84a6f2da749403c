"""Wire formats of alerts and picks, converted to and from the canonical model.

The canonical model is :class:`eew.model.alert.Alert` for alerts and
:class:`eew.model.pick.Pick` for picks. One module per format, each with a
writer and a parser:

* :mod:`eew.formats.native` -- native JSON ``eew.alert/1`` and ``eew.pick/1``;
* :mod:`eew.formats.shakealert` -- ShakeAlert ``event_message`` XML (v10 schema);
* :mod:`eew.formats.quakeml` -- QuakeML 1.2, real-time flavour (obspy);
* :mod:`eew.formats.cap` -- CAP 1.2 public warnings (texts in :mod:`eew.formats.cap_text`);
* :mod:`eew.formats.anss` -- ANSS Pick and Detection JSON.

:mod:`eew.formats.registry` detects the format of a message file and dispatches
to these modules; ``docs/formats.md`` documents every mapping and what each
format cannot carry. Malformed input raises :class:`eew.errors.DataError`.
"""
