"""The on-the-fly training data of ``train --simulate``: a seeded tf.data source.

Sample ``n`` of the stream (training: element ``n`` of step ``n // batch`` of epoch
``n // (steps_per_epoch * batch)``) draws its parameters with a generator seeded by
``(seed, 0, epoch, step, index)`` (:func:`sample_rng`; validation sample ``v``:
``(seed, 1, v)``), simulates a K-frame movie of one patch with the project's simulator
(:func:`~smlmscale.simulate.frames.frames_with_truth`: the frames of
:func:`~smlmscale.simulate.frames.render_frames` and the truth of
:func:`~smlmscale.simulate.frames.truth_rows` for the centre frame) and makes exactly
the ``frames`` pair of it with the frames generator's kernel
(:func:`~smlmscale.patches.stacks_targets.stack_pairs`: normalization offset the camera
baseline, background target the simulator's expected photons/px). So a sample depends
on the seed and its position only, not on the parallelism: the pipeline maps seeded
indices in parallel, deterministically. Nothing is written to disk.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from smlmscale.patches.stacks_targets import stack_pairs
from smlmscale.train.simparams import SimTrainSettings

_TRAIN, _VALIDATION = 0, 1


def sample_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of one sample, from the run's seed and the sample's key."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, key)]))


def simulate_movie(sim: SimTrainSettings, rng: np.random.Generator):
    """One sample's movie settings, its K frames (ADU) and the truth of its centre frame."""
    from smlmscale.simulate.frames import frames_with_truth

    movie = sim.movie(rng, seed=int(rng.integers(2**31 - 1)))
    frames, truth = frames_with_truth(movie, 0, sim.context, sim.context // 2,
                                      sim.context // 2 + 1)
    return movie, frames, truth


def frames_pair(sim: SimTrainSettings, movie, frames: np.ndarray, truth: pd.DataFrame
                ) -> tuple[np.ndarray, np.ndarray]:
    """The ``frames`` pair ``(H, W, K)``, ``(H, W, C)`` of a simulated K-frame movie, by
    the frames generator's kernel (one patch at corner (0, 0), centre frame K // 2)."""
    from smlmscale.simulate.frames import movie_model

    px = sim.pixel_size_nm
    members = pd.DataFrame({"patch": np.zeros(len(truth), np.int64),
                            "x_px": truth["x_nm"].to_numpy() / px,
                            "y_px": truth["y_nm"].to_numpy() / px,
                            "photons": truth["photons"].to_numpy()})
    if sim.is_3d:
        members["z_nm"] = truth["z_nm"].to_numpy()
    corners = pd.DataFrame({"frame": [sim.context // 2], "row0": [0], "col0": [0]})
    settings = sim.frames_settings()
    inputs, targets = stack_pairs(frames, np.arange(sim.context), corners, members,
                                  n_frames=sim.context, settings=settings,
                                  offset_adu=settings.offset_adu, scale_adu=settings.scale_adu,
                                  is_3d=sim.is_3d, background=movie_model(movie).background)
    return inputs[0], targets[0]


def simulated_pair(sim: SimTrainSettings, *key: int) -> tuple[np.ndarray, np.ndarray]:
    """The pair of the sample ``key`` (``(0, epoch, step, index)`` or ``(1, v)``)."""
    movie, frames, truth = simulate_movie(sim, sample_rng(sim.seed, *key))
    return frames_pair(sim, movie, frames, truth)


def train_key(n: int, *, steps_per_epoch: int, batch_size: int) -> tuple[int, int, int, int]:
    """``(0, epoch, step, index)`` of training sample ``n`` of the stream.

    >>> train_key(13, steps_per_epoch=3, batch_size=4)
    (0, 1, 0, 1)
    """
    per_epoch = steps_per_epoch * batch_size
    return (_TRAIN, n // per_epoch, (n % per_epoch) // batch_size, n % batch_size)


def simulated_stream(sim: SimTrainSettings, *, steps_per_epoch: int, batch_size: int,
                     initial_epoch: int = 0, parallel: int | None = None) -> Any:
    """The endless training stream of batches, from epoch ``initial_epoch`` (a resumed
    run continues with the next epoch's samples)."""
    import tensorflow as tf

    first = initial_epoch * steps_per_epoch * batch_size

    def make(n: Any) -> tuple[np.ndarray, np.ndarray]:
        return simulated_pair(sim, *train_key(int(n), steps_per_epoch=steps_per_epoch,
                                                batch_size=batch_size))

    ds = tf.data.Dataset.range(first, 2**62)
    return _batched(ds, make, sim, batch_size, parallel)


def validation_set(sim: SimTrainSettings, *, batch_size: int) -> Any:
    """The fixed validation set (``validation_samples`` samples, generated once)."""
    import tensorflow as tf

    pairs = [simulated_pair(sim, _VALIDATION, v) for v in range(sim.validation_samples)]
    inputs = np.stack([p[0] for p in pairs])
    targets = np.stack([p[1] for p in pairs])
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size).cache()


def _batched(ds: Any, make: Any, sim: SimTrainSettings, batch_size: int,
             parallel: int | None) -> Any:
    import tensorflow as tf

    in_shape, out_shape = sim.input_shape, sim.target_shape

    def read(n: Any) -> tuple[Any, Any]:
        x, y = tf.numpy_function(make, [n], (tf.float32, tf.float32), stateful=False)
        x.set_shape(in_shape)
        y.set_shape(out_shape)
        return x, y

    calls = parallel or tf.data.AUTOTUNE
    return ds.map(read, num_parallel_calls=calls, deterministic=True).batch(
        batch_size, drop_remainder=True).prefetch(2)


__all__ = ["frames_pair", "sample_rng", "simulate_movie", "simulated_pair",
           "simulated_stream", "train_key", "validation_set"]
