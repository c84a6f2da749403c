"""The operations console in the browser (issue 14).

Modules:

- :mod:`eew.console.config`: the ``[console]`` section (loopback by default; a token is
  required anywhere else);
- :mod:`eew.console.tap`: the bounded, drop-oldest handover from the processing chain
  (one ``deque.append`` per value: the console never blocks or slows the chain);
- :mod:`eew.console.state`: what the console shows, from the chain's values (no I/O);
- :mod:`eew.console.server`: aiohttp in a thread of its own, WebSocket to the browsers;
- :mod:`eew.console.assemble`: one console from a configuration, for ``eew replay
  --console`` and the daemon;
- ``static/``: the page, plain JavaScript and CSS (no build step, no CDN, no tile server)
  and the map outlines (Natural Earth, public domain; see ``NATURAL_EARTH_LICENSE.txt``).

The console speaks the model (:mod:`eew.model`): it imports neither the stages nor the
bus, the daemon or the command line; they hand it what it shows.
"""
