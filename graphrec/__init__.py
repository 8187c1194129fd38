"""graphrec: GNN link prediction and node classification over one heterogeneous social graph.

Importing graphrec before torch sets OpenMP's wait policy to ``PASSIVE`` unless the
environment already sets ``OMP_WAIT_POLICY``. OpenMP's default spins waiting threads at the
end of every parallel op; on a machine where another process computes, a spinning thread
holds a core that a descheduled peer needs, and every small op waits for it. Measured on 2
cores beside one process multiplying matrices, a mini-batch epoch of the main graph took
117 s at default threads against 8 s with ``PASSIVE`` (7 s at one thread); idle, ``PASSIVE``
costs about 15% (4.2 s against 3.6 s). OpenMP reads the variable once, when torch loads it,
so it has no effect if torch was imported first. See docs/scale.md ("Threads").
"""

import os as _os
import sys as _sys

if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
