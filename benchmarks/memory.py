"""Peak memory of a process tree, sampled in a background thread.

PSS (proportional set size) is summed over this process and all its children
(Dask worker processes included), so pages of shared libraries are counted
once, not once per process.
"""

from __future__ import annotations

import threading
import time

import psutil


def tree_pss_bytes(root: psutil.Process | None = None) -> int:
    """Sum of PSS over ``root`` (default: this process) and its descendants, in bytes."""
    root = root or psutil.Process()
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


class PeakMemory:
    """Context manager recording the idle and peak PSS of the process tree.

    Attributes
    ----------
    idle_bytes : int
        PSS when the block started.
    peak_bytes : int
        Highest PSS seen while the block ran (sampled every ``interval_s``).
    """

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.idle_bytes = self.peak_bytes = 0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakMemory":
        self.idle_bytes = self.peak_bytes = tree_pss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, tree_pss_bytes())
            time.sleep(self.interval_s)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, tree_pss_bytes())

    @property
    def growth_bytes(self) -> int:
        """Peak minus idle: the memory the measured work itself needed."""
        return self.peak_bytes - self.idle_bytes


def measure(work, *, out=None, sync: bool = True):
    """Run ``work()`` fresh: remove ``out`` first, time it and track the peak memory.

    Returns ``(result, seconds, memory)``; ``os.sync()`` is inside the timing when
    ``sync`` (written data counts only once it is on disk).
    """
    import os
    import shutil
    import time

    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = work()
        if sync:
            os.sync()
        seconds = time.perf_counter() - started
    return result, seconds, memory
