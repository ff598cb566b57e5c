"""scikit-learn's DBSCAN on a Parquet point set, in its own process (the baseline of
``benchmarks/test_cluster.py``): ``python -m benchmarks.cluster_sklearn POINTS_DIR EPS
MIN_SAMPLES LABELS.npy`` prints ``{"points", "seconds", "peak_rss_mib", "idle_rss_mib"}``;
``seconds`` is the ``DBSCAN(...).fit`` call alone, the labels go to ``LABELS.npy``.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str]) -> None:
    from sklearn.cluster import DBSCAN

    folder, eps, min_samples, labels_path = argv[0], float(argv[1]), int(argv[2]), argv[3]
    points = pd.read_parquet(folder, columns=["x_nm", "y_nm", "z_nm"]).to_numpy(np.float64)
    idle = _rss_mib()
    started = time.perf_counter()
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit(points).labels_
    seconds = time.perf_counter() - started
    np.save(labels_path, labels.astype(np.int64))
    print(json.dumps({"points": len(points), "seconds": seconds, "idle_rss_mib": idle,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
