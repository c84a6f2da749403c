"""From picks to events and alerts: association, location, magnitude, forecasts, alert lifecycle.

:class:`~eew.event.core.EventCore` (:mod:`eew.event.core`) is assembled from one class per
responsibility: :mod:`eew.event.corebase` (shared state, predicted arrivals),
:mod:`eew.event.locating` (location with silent stations, outliers, settling),
:mod:`eew.event.evaluation` (magnitude, distant tests, forecasts, alert decision) and
:mod:`eew.event.association` (picks to events, new-event search). The package map in
:mod:`eew` lists the other modules.
"""
