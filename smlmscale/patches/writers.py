"""Writing a generator's pairs into a patch set: in parallel by region, or in order.

- :func:`write_planned`: every task's patch count is known and every task but the
  last covers whole chunks, so each task's result is stored by the worker that
  computed it (``_store_region``), in parallel, and only the count returns.
- :func:`write_streamed`: counts are unknown; a window of ``in_flight`` tasks is
  computed at a time, their pairs come back in order and are appended whole
  chunks at a time (the remainder waits for the next window).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from smlmscale.patches.base import Generated, Runner


def _store_region(pairs, path: str, start: int, size: int) -> int:
    """Write ``pairs = (inputs, targets)`` at ``start`` of the patch set at ``path``."""
    import zarr

    inputs, targets = pairs
    if len(inputs) != size or len(targets) != size:
        raise RuntimeError(f"a task planned {size} patches at {start} but made "
                           f"{len(inputs)} inputs and {len(targets)} targets")
    group = zarr.open_group(path, mode="r+")
    group["inputs"][start:start + size] = inputs
    group["targets"][start:start + size] = targets
    return size


def write_planned(gen: Generated, path: str, *, runner: Runner, in_flight: int = 8,
                  progress: Callable[[int, int, int], None] | None = None) -> int:
    """Store every task's pairs at its planned offset of the patch set at ``path``.

    With a client every task is submitted at once (the scheduler bounds how many run)
    and results are consumed as they finish; without one, ``in_flight`` tasks are
    computed at a time.

    Returns
    -------
    int
        Patches written (``sum(gen.sizes)``).
    """
    import dask

    starts = np.concatenate([[0], np.cumsum(gen.sizes)]).astype(int)
    writes = [dask.delayed(_store_region, pure=False)(task, path, int(a), int(size))
              for task, a, size in zip(gen.tasks, starts[:-1], gen.sizes)]
    total, done, written = len(writes), 0, 0
    if runner.client is not None:
        from smlmscale.runtime.completed import completed_results

        with completed_results(runner.client, runner.client.compute(writes)) as results:
            for size in results:
                done, written = done + 1, written + size
                if progress is not None:
                    progress(done, total, written)
        return written
    for first in range(0, total, in_flight):
        for size in dask.compute(*writes[first:first + in_flight]):
            done, written = done + 1, written + size
        if progress is not None:
            progress(done, total, written)
    return written


def write_streamed(gen: Generated, ps, *, runner: Runner, in_flight: int,
                   progress: Callable[[int, int, int], None] | None = None) -> int:
    """Compute ``gen.tasks`` a window at a time; append their pairs in order, chunk-aligned."""
    chunk = gen.chunk
    held_in: list[np.ndarray] = []
    held_tg: list[np.ndarray] = []
    held = written = 0
    for start in range(0, len(gen.tasks), in_flight):
        for inputs, targets in runner.compute(*gen.tasks[start:start + in_flight]):
            held_in.append(inputs)
            held_tg.append(targets)
            held += len(inputs)
        if held >= chunk:
            inputs, targets = np.concatenate(held_in), np.concatenate(held_tg)
            whole = (held // chunk) * chunk
            ps.inputs.append(inputs[:whole], axis=0)
            ps.targets.append(targets[:whole], axis=0)
            held_in, held_tg = [inputs[whole:]], [targets[whole:]]
            written, held = written + whole, held - whole
        if progress is not None:
            progress(min(start + in_flight, len(gen.tasks)), len(gen.tasks), written + held)
    if held:
        ps.inputs.append(np.concatenate(held_in), axis=0)
        ps.targets.append(np.concatenate(held_tg), axis=0)
        written += held
    return written


__all__ = ["write_planned", "write_streamed"]
