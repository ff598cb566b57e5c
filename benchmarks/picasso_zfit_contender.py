"""Picasso's astigmatic 3D localization on a raw movie, as its own process in Picasso's venv.

``.venv-picasso/bin/python benchmarks/picasso_zfit_contender.py CALIB.npy STEP_NM MOVIE.npy
CAMERA.json OUT.csv`` prints one JSON line ``{"calibration_localizations": c,
"localizations": k, "seconds": s}`` and writes ``frame, x_nm, y_nm, z_nm`` (canonical
columns: pixel-corner origin, nm).

What runs is what ``picasso localize`` does with a 3D calibration: the calibration stack
(one bead z-stack, frame k at stage position ``z0 + k STEP_NM``) is localized by
identify + LQ Gaussian fit (:func:`picasso_contender.localize_movie`), its mean sx/sy per
step fitted by ``zfit.calibrate_z`` (6th-order polynomials, magnification factor 1: the
simulation has no index mismatch); the movie is localized the same way and each
localization's z found by ``zfit.zfit`` (distance to the calibration curves, no RMSD
filter). Picasso's z axis runs against the stage steps (``calibrate_z`` gives the first
frame the highest z) and its origin is where the calibration curves cross, so
``z_nm = -z_picasso`` on a stack whose curves cross at z = 0 (smlmscale's astigmatic
model: the x and y foci at +-focal offset).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from picasso_contender import localize_movie  # noqa: E402


def run(calib_path: str, step_nm: float, movie_path: str, camera_path: str, out: str) -> dict:
    import pandas as pd
    from picasso import zfit

    camera = json.loads(open(camera_path, encoding="utf-8").read())
    pixel_nm = float(camera["pixel_size_nm"])
    calib, movie = np.load(calib_path), np.load(movie_path)
    started = time.perf_counter()
    cal_locs = pd.DataFrame(localize_movie(calib, camera)[0])
    info = [{"Frames": int(len(calib)), "Height": int(calib.shape[1]),
             "Width": int(calib.shape[2]), "Pixelsize": pixel_nm}]
    calibration = zfit.calibrate_z(cal_locs, info, float(step_nm), 1.0)
    locs = pd.DataFrame(localize_movie(movie, camera)[0])
    movie_info = [{"Frames": int(len(movie)), "Height": int(movie.shape[1]),
                   "Width": int(movie.shape[2]), "Pixelsize": pixel_nm}]
    zlocs, _ = zfit.zfit(locs, movie_info, calibration=calibration, pixelsize=pixel_nm,
                         filter=0)
    seconds = time.perf_counter() - started
    pd.DataFrame({"frame": zlocs["frame"].astype(np.int64),
                  "x_nm": (zlocs["x"] + 0.5) * pixel_nm, "y_nm": (zlocs["y"] + 0.5) * pixel_nm,
                  "z_nm": -zlocs["z"]}).to_csv(out, index=False)
    return {"calibration_localizations": int(len(cal_locs)), "localizations": int(len(zlocs)),
            "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("calib", "step_nm", "movie", "camera", "out"):
        parser.add_argument(name)
    a = parser.parse_args()
    print(json.dumps(run(a.calib, float(a.step_nm), a.movie, a.camera, a.out)))


if __name__ == "__main__":
    main()
