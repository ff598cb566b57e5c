"""glibc malloc thresholds for chunk-sized temporaries, in workers and in this process.

NumPy and scipy.fft allocate their large temporaries with ``malloc``. With glibc's
defaults, a block above the mmap threshold (128 KiB, raised dynamically up to 32 MiB
as such blocks are freed) becomes a fresh memory mapping, and freed memory at the top
of the heap is returned to the system above the trim threshold; either way the next
temporary of that size is page-faulted in again. Distributed makes it worse: its
``MALLOC_TRIM_THRESHOLD_=65536`` pins both thresholds low. Measured here (PSF-file
simulation, 61x61 px pupil spots on a 203-sample grid): with glibc's dynamic defaults
one process took 3.1 million minor page faults and 18 % of its time in the kernel per
600 frames; with the thresholds below, 32 thousand and under 1 %, and 1.17x faster
(``benchmarks/RESULTS.md``, PSF-file simulation).

:data:`MALLOC_ENVIRON` is set in every local worker's environment
(:func:`smlmscale.runtime.client.dask_client`); :func:`tune_malloc` applies the same
thresholds to a running process (glibc reads the variables only at start-up). A
process holds back at most about :data:`TRIM_THRESHOLD_BYTES` of freed heap top per
malloc arena, of the order of a few chunks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: Blocks below this many bytes come from the heap (glibc's largest dynamic value).
MMAP_THRESHOLD_BYTES = 32 * 2**20
#: Freed heap top above this many bytes is returned to the system.
TRIM_THRESHOLD_BYTES = 64 * 2**20
#: The environment variables that give a new process these thresholds.
MALLOC_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES),
                  "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES)}
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>


@functools.lru_cache(maxsize=1)
def tune_malloc() -> bool:
    """Give this process the thresholds of :data:`MALLOC_ENVIRON` (once; glibc only).

    Returns
    -------
    bool
        True where glibc accepted both, False elsewhere (another C library, another
        system): nothing is changed there.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


__all__ = ["MALLOC_ENVIRON", "MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "tune_malloc"]
