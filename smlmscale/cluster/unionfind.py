"""Union-find over integer ids ``0..n-1``, vectorised: whole edge lists at a time.

Every round hooks each root to the smallest root it is linked to, then compresses the
paths by pointer jumping, until no edge joins two roots. A root is always the smallest id
of its set, so the result does not depend on the order of the edges.
"""

from __future__ import annotations

import numpy as np


def _compress(parent: np.ndarray) -> np.ndarray:
    """Point every id at its root (pointer jumping)."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The root (smallest member) of the set of every id, edges ``a[i] -- b[i]`` joined.

    Parameters
    ----------
    n : int
        Number of ids.
    a, b : numpy.ndarray
        Integer ids in ``0..n-1``, same length: the pairs to join.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 root of each id.

    Examples
    --------
    >>> union_find(6, np.array([4, 1, 5]), np.array([1, 3, 4])).tolist()
    [0, 1, 2, 1, 1, 1]
    """
    parent = np.arange(n, dtype=np.int64)
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    while len(a):
        a, b = parent[a], parent[b]
        keep = a != b
        a, b = a[keep], b[keep]
        if not len(a):
            break
        low, high = np.minimum(a, b), np.maximum(a, b)
        np.minimum.at(parent, high, low)        # hook each root to its smallest neighbour
        parent = _compress(parent)
    return parent


def set_labels(roots: np.ndarray) -> tuple[np.ndarray, int]:
    """Number the sets ``0..k-1`` in the order of their roots.

    Returns
    -------
    tuple
        ``(label, k)``: ``(n,)`` int64 label of each id, and the number of sets.
    """
    unique, label = np.unique(roots, return_inverse=True)
    return label.astype(np.int64), len(unique)


__all__ = ["set_labels", "union_find"]
