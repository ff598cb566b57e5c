"""Picasso's classical pipeline on a raw movie, as its own process in Picasso's own venv.

``.venv-picasso/bin/python benchmarks/picasso_contender.py MOVIE.npy CAMERA.json`` prints
one JSON line ``{"frames": n, "seconds": s, "localizations": k, "identify_s": a,
"fit_s": b}``; with ``--locs OUT.csv`` it also writes ``frame, x_nm, y_nm, photons`` (our
canonical columns: x_nm of Picasso's pixel-centre coordinates plus half a pixel).

What runs is Picasso's (picassosr) own identify + least-squares Gaussian fit, as
``picasso localize`` does: ``localize.identify`` (net-gradient maxima, box px, minimum
net gradient from CAMERA.json), ``localize.get_spots`` (photon-converted boxes with the
camera's baseline, sensitivity, EM gain and QE) and ``gausslq.fit_spots_parallel`` on all
cores, then ``gausslq.locs_from_fits``. Reading the .npy movie and numba's compilation
(a first run on two frames) are not timed. picassosr pins
its own NumPy and Qt, so it is installed apart from smlmscale (``make bench-picasso``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def localize_movie(movie: np.ndarray, camera: dict) -> tuple:
    """Picasso's identify + LQ Gaussian fit of ``movie`` with the CAMERA.json ``camera``
    (keys ``box``, ``min_net_gradient``, ``pixel_size_nm`` and Picasso's camera keys);
    ``(table, identify_s, fit_s)``, the table Picasso's own (pixel-centre px, sx/sy px)."""
    from picasso import gausslq, localize

    camera = dict(camera)
    box, ng = int(camera.pop("box")), float(camera.pop("min_net_gradient"))
    camera.pop("pixel_size_nm", None)
    warm = localize.identify(movie[:2], ng, box, return_info=False)  # numba compiles, untimed
    gausslq.fit_spots_parallel(localize.get_spots(movie[:2], warm, box, camera), asynch=False)
    started = time.perf_counter()
    ids = localize.identify(movie, ng, box, return_info=False)
    identified = time.perf_counter()
    spots = localize.get_spots(movie, ids, box, camera)
    theta = gausslq.fit_spots_parallel(spots, asynch=False)
    table = gausslq.locs_from_fits(ids, theta, box, em=camera.get("Gain", 1) > 1)
    return table, identified - started, time.perf_counter() - identified


def run(movie_path: str, camera_path: str, locs: str | None = None) -> dict:
    movie = np.load(movie_path, mmap_mode=None)
    camera = json.loads(open(camera_path, encoding="utf-8").read())
    pixel_nm = float(camera["pixel_size_nm"])
    table, identify_s, fit_s = localize_movie(movie, camera)
    if locs is not None:
        import pandas as pd

        pd.DataFrame({"frame": table["frame"].astype(np.int64),
                      "x_nm": (table["x"] + 0.5) * pixel_nm,
                      "y_nm": (table["y"] + 0.5) * pixel_nm,
                      "photons": table["photons"]}).to_csv(locs, index=False)
    return {"frames": int(len(movie)), "seconds": identify_s + fit_s,
            "identify_s": identify_s, "fit_s": fit_s, "localizations": int(len(table))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movie")
    parser.add_argument("camera")
    parser.add_argument("--locs")
    args = parser.parse_args()
    print(json.dumps(run(args.movie, args.camera, args.locs)))


if __name__ == "__main__":
    main()
