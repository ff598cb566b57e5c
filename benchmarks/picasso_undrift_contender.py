"""Picasso's RCC undrift on a table, as its own process in Picasso's own venv.

``.venv-picasso/bin/python benchmarks/picasso_undrift_contender.py LOCS.npz INFO.json
DRIFT.npy`` prints one JSON line ``{"seconds": s, "segments": n}`` and saves Picasso's
per-frame drift, converted to nm, as an ``(frames, 2)`` x, y array in DRIFT.npy.

LOCS.npz holds ``frame``, ``x``, ``y``, ``lpx``, ``lpy``, ``photons`` in Picasso's
convention (camera px, pixel centres at integers); INFO.json Picasso's metadata
(``Height``, ``Width``, ``Frames``, ``Pixelsize``) and ``segmentation`` (frames per
segment). What runs is picassosr's ``postprocess.undrift`` (as Picasso's GUI and
``picasso undrift``: segments rendered with Gaussian blur at the camera pixel,
``imageprocess.rcc`` with a Gaussian-fitted peak per pair, a cubic spline per frame, and
``apply_drift``). Loading the file and a first run on 1 % of the rows (numba's
compilation) are not timed.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locs")
    parser.add_argument("info")
    parser.add_argument("drift")
    args = parser.parse_args()
    import pandas as pd
    from picasso import postprocess

    data = np.load(args.locs)
    locs = pd.DataFrame({k: data[k] for k in data.files})
    info = json.loads(open(args.info, encoding="utf-8").read())
    segmentation = int(info.pop("segmentation"))
    postprocess.undrift(locs.iloc[::100], [info], segmentation, display=False)  # numba, untimed
    started = time.perf_counter()
    drift, _ = postprocess.undrift(locs, [info], segmentation, display=False)
    seconds = time.perf_counter() - started
    np.save(args.drift, drift[["x", "y"]].to_numpy() * float(info["Pixelsize"]))
    print(json.dumps({"seconds": seconds,
                      "segments": int(postprocess.n_segments([info], segmentation))}))


if __name__ == "__main__":
    main()
