"""The contract between patch generators and the orchestrator.

A generator (``deepstorm``, ``fusion``, ``summed``, ``counts``) turns a movie, a
:class:`~smlmscale.patches.frames.FrameTable` and its settings into a
:class:`Generated`: lazy tasks, each returning ``(inputs, targets)`` float32
arrays ``(k, H, W, C)`` / ``(k, H', W', C')`` of consecutive patches, in patch
order. The orchestrator (:mod:`smlmscale.patches.run`) decides where they go:

- **planned** (``sizes`` given): the patch count of every task is known before
  anything runs (it depends on the table only); every task but the last holds a
  whole number of output chunks, so each task's result is written straight into
  its own chunk-aligned region of the patch set by the worker that made it.
- **streamed** (``sizes`` is ``None``): the count depends on the pixels (fusion's
  SF criterion); results come back a bounded window at a time and the driver
  appends them in order, chunk-aligned.

Generators get a :class:`Runner` to compute what they must know before building
their tasks (a DBSCAN, moments of a fit); it runs on the cluster when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Generated:
    """A generator's lazy work.

    Attributes
    ----------
    tasks : list of dask.delayed.Delayed
        Each returns ``(inputs, targets)``, float32, patches in order.
    input_shape, target_shape : tuple of int
        One patch, ``(H, W, C)`` and ``(H', W', C')``.
    sizes : list of int, optional
        Patches of each task when known in advance (planned mode); every size but
        the last is a multiple of ``chunk``.
    chunk : int
        Patches per chunk of the patch set (``auto_chunk`` when the caller gave none).
    attrs : dict
        Patch-set attributes: ``generator``, ``params``, ``upsampling``,
        ``normalization`` and anything else worth keeping (fit coefficients, counts
        of what was dropped).
    empty_reason : str
        Why there might be no patch, for the error message (``"no patch holds at
        least 2 emitters"``).
    empty_hint : str
        What to change then.
    held : list
        Persisted collections (:meth:`Runner.persist`) the tasks depend on. A task built
        on a persisted Delayed refers to its key only, so the persisted objects must
        stay referenced until the tasks have run, or the cluster forgets them.
    """

    tasks: list
    input_shape: tuple
    target_shape: tuple
    sizes: list | None = None
    chunk: int = 0
    attrs: dict = field(default_factory=dict)
    empty_reason: str = "no patch was made"
    empty_hint: str = "check the table and the options"
    held: list = field(default_factory=list)


class Runner:
    """Computes and persists Dask collections on a client, or on the current scheduler.

    Parameters
    ----------
    client : distributed.Client, optional
    """

    def __init__(self, client=None) -> None:
        self.client = client

    def compute(self, *objs) -> tuple:
        """Results of ``objs`` (Dask collections or Delayed), as :func:`dask.compute`."""
        import dask

        if self.client is not None:
            return tuple(self.client.gather(self.client.compute(list(objs))))
        return dask.compute(*objs)

    def persist(self, objs: list) -> list:
        """``objs`` computed and held (on the workers when there is a client), still lazy."""
        import dask

        if not objs:
            return []
        if self.client is not None:
            return list(self.client.persist(list(objs)))
        return list(dask.persist(*objs))


def chunk_sizes(n: int, chunk: int) -> list[int]:
    """Split ``n`` patches into sizes of ``chunk`` and a remainder.

    >>> chunk_sizes(10, 4)
    [4, 4, 2]
    """
    return [min(chunk, n - a) for a in range(0, n, chunk)]


def empty_pairs(input_shape, target_shape) -> tuple[np.ndarray, np.ndarray]:
    """Zero patches of the given shapes: ``(0, *shape)`` float32 each."""
    return (np.zeros((0, *input_shape), np.float32), np.zeros((0, *target_shape), np.float32))


#: Bytes of pairs (inputs plus targets) per patch-set chunk when the caller gives no chunk.
CHUNK_BYTES = 8 * 2**20


def auto_chunk(input_shape, target_shape, *, target_bytes: int = CHUNK_BYTES) -> int:
    """Patches per chunk so that a chunk of inputs plus targets holds about ``target_bytes``."""
    per_patch = 4 * (int(np.prod(input_shape)) + int(np.prod(target_shape)))
    return int(max(1, min(4096, target_bytes // per_patch)))


__all__ = ["CHUNK_BYTES", "Generated", "Runner", "auto_chunk", "chunk_sizes", "empty_pairs"]
