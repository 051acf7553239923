"""The cyclic garbage collector, set for a server whose heap is built once at startup.

CPython's collector runs a young-generation pass every 700 container allocations and, now
and then, a full pass over every live object. In this server almost all of them (modules,
config, adapters, pools, metrics: ~57,000 objects) are made at startup and live until exit,
and a request's own objects are nearly all freed by reference counting. Measured under load
with CPython 3.11 (bench, S1@32, 13.7 s of proxy CPU): 2,610 young passes, 237 middle and 21
full ones (17 ms each, every one a pause for every request in flight) took 6.8% of the
proxy's CPU. So, at startup:

- `gc.freeze()` moves the startup heap out of the collector's sight: full passes then look
  only at what came later;
- the young generation's threshold goes from 700 to YOUNG_THRESHOLD allocations: most of a
  request's objects are freed before a pass would have examined them. Garbage in cycles
  waits a little longer (a few requests' worth).

Counted with `python -m bench.instructions` (1,000 requests at 32 concurrent), the two
take ~6% of the instructions per non-stream request and ~4% per stream.

A reload makes the previous config garbage once the requests still using it are done: it
is unfrozen at once (so a full pass can free it) and the heap is settled again after that
grace time (state.py).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 7_000  # CPython's default is 700; the older generations keep theirs


def settle() -> None:
    """Collect what is garbage now, freeze the rest, raise the young threshold. One full
    collection (about 20 ms with the startup heap): at startup, and once after a reload."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def thaw() -> None:
    """Give frozen objects back to the collector (a reload retired some of them)."""
    gc.unfreeze()
