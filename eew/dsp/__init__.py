"""Pure numerical kernels: arrays and sample counts in, arrays out.

No obspy objects, clocks or sockets here. Every numba kernel
(``@njit(cache=True)``) has a plain-NumPy twin with the suffix ``_np`` (or a
scipy reference) that the tests compare it against.
"""
