"""The in-process contenders of ``benchmarks/test_predict.py``, run as their own processes.

Each runs in a fresh interpreter so that TensorFlow's thread pools are set before it
starts: ``python -m benchmarks.predict_contenders {limit|seed} MOVIE MODEL THREADS`` prints
one JSON line ``{"frames": n, "seconds": s, "peak_rss_mib": m}``.

- ``limit``: what one worker could do at best: the frames already read, normalized and
  upsampled (float32) in memory, then only ``predict_on_batch`` in batches of 8 with the
  same flexible-input model the workers use. Not timed: reading and preparing.
- ``seed``: the seed-style script (Deep-STORM's test notebook): read the whole stack,
  upsample it with ``np.kron`` in float64, normalize each frame to [0, 1], then
  ``model.predict(stack, batch_size=1)`` and local maxima of each density. All timed.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def _threads(threads: int) -> None:
    import tensorflow as tf

    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def limit(movie: str, model: str, threads: int) -> dict:
    """Seconds of ``predict_on_batch`` alone over the prepared movie."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.predict.block import normalize_frames
    from smlmscale.predict.model_cache import cached_predictor
    from smlmscale.io.modeldir import read_model_json

    _threads(threads)
    factor = int(read_model_json(model)["upsampling"])
    frames = normalize_frames(np.asarray(open_image_store(movie).array[:]), "frame")
    batch = np.repeat(np.repeat(frames, factor, axis=1), factor, axis=2)[..., None]
    predictor = cached_predictor(model)
    predictor(batch[:8])  # traces the function
    started = time.perf_counter()
    for start in range(0, len(batch), 8):
        predictor(batch[start:start + 8])
    return {"frames": len(batch), "seconds": time.perf_counter() - started}


def seed(movie: str, model: str, threads: int) -> dict:
    """Seconds of the whole seed-style run: read, kron float64, predict batch 1, maxima."""
    import zarr

    from smlmscale.localize.maxima import find_maxima
    from smlmscale.predict.model_cache import flexible
    from smlmscale.io.modeldir import load_keras_model, read_model_json

    _threads(threads)
    factor = int(read_model_json(model)["upsampling"])
    net = flexible(load_keras_model(model))
    net.predict(np.zeros((1, 8 * factor, 8 * factor, 1)), verbose=0)
    started = time.perf_counter()
    stack = np.asarray(zarr.open_group(movie, mode="r")["0"][:])
    upsampled = np.stack([np.kron(frame, np.ones((factor, factor))) for frame in stack])
    low = upsampled.min(axis=(1, 2), keepdims=True)
    high = upsampled.max(axis=(1, 2), keepdims=True)
    upsampled = (upsampled - low) / np.maximum(high - low, 1e-12)
    density = net.predict(upsampled[..., None], batch_size=1, verbose=0)
    found = find_maxima(density[..., 0], threshold=0.1, radius=1)
    return {"frames": len(stack), "seconds": time.perf_counter() - started,
            "localizations": int(found.frame.size)}


def main(argv: list[str]) -> None:
    kind, movie, model, threads = argv[0], argv[1], argv[2], int(argv[3])
    result = {"limit": limit, "seed": seed}[kind](movie, model, threads)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
