"""Picasso's FRC and precision-blurred render of a table, as its own process in Picasso's venv.

``.venv-picasso/bin/python benchmarks/picasso_render_frc_contender.py LOCS.npz INFO.json
PIXEL_NM IMAGE.npy`` prints one JSON line: ``frc_seconds`` and ``frc_nm`` (picassosr's
``postprocess.frc``: NeNA, a random half split, histograms at NeNA / 2, Tukey mask, LOESS,
1/7), ``frc_fixed_seconds`` and ``frc_fixed_nm`` (its ``_frc`` on the same kind of split
with the render pixel forced to PIXEL_NM / 2, the pixel smlmscale's run uses), and
``render_seconds`` (``render.render`` with ``blur_method="gaussian"``: each localization
blurred by its own lpx/lpy, at PIXEL_NM display pixels); the image goes to IMAGE.npy.

LOCS.npz holds ``frame``, ``x``, ``y``, ``lpx``, ``lpy``, ``photons`` in Picasso's
convention (camera px, pixel centres at integers); INFO.json Picasso's metadata
(``Height``, ``Width``, ``Frames``, ``Pixelsize``). Loading the file and a first run of each
on 1 % of the rows (numba's compilation) are not timed.
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
    parser.add_argument("pixel_nm", type=float)
    parser.add_argument("image")
    args = parser.parse_args()
    import pandas as pd
    from picasso import postprocess, render

    data = np.load(args.locs)
    locs = pd.DataFrame({k: data[k] for k in data.files})
    info = json.loads(open(args.info, encoding="utf-8").read())
    camera_nm = float(info["Pixelsize"])
    viewport = ((0.0, 0.0), (float(info["Height"]), float(info["Width"])))
    few = locs.iloc[::100]
    postprocess.frc(few, [info], viewport)                               # numba, untimed
    render.render(few, info, disp_px_size=args.pixel_nm, blur_method="gaussian")
    out = {}
    started = time.perf_counter()
    out["frc_nm"] = postprocess.frc(locs, [info], viewport)["resolution"]
    out["frc_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    order = np.random.default_rng(42).permutation(len(locs))
    halves = locs.iloc[order[: len(locs) // 2]], locs.iloc[order[len(locs) // 2:]]
    lp = 2 * (args.pixel_nm / 2) / camera_nm        # binsize lp / 2 = PIXEL_NM / 2 in nm
    out["frc_fixed_nm"] = postprocess._frc(*halves, camera_nm, lp, viewport)[3]
    out["frc_fixed_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    image = render.render(locs, info, disp_px_size=args.pixel_nm, blur_method="gaussian")[1]
    out["render_seconds"] = time.perf_counter() - started
    np.save(args.image, image)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
