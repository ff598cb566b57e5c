"""Training benchmarks (issue 6): the Zarr stream against in-memory arrays, and its memory.

throughput (``-k throughput``): a deepstorm-shaped patch set (64 x 64 x 1 inputs and
targets, float32, 4,096 patches = 128 MiB of pairs, no validation split) written chunk
by chunk in a temporary folder; the deepstorm model, built freshly with the same seed for
each contender and compiled the way ``train_model`` compiles it (Adam 1e-3, MSE, targets
x 100), trained with batches of 16 for ``SMLMSCALE_BENCH_TRAIN_STEPS`` steps per ``fit``
call on

- *numpy* (the limit): ``model.fit(x, y, batch_size=16, shuffle=True)`` on the whole
  set loaded into memory beforehand (targets already scaled);
- *stream*: ``model.fit(patch_stream(ps, "train", plan, augment="none",
  target_scale=100))`` with ``plan_stream(ps, batch_size=16, budget_bytes=1 GiB)``
  (``train_model``'s default budget);
- *dihedral*: the same stream with ``augment="dihedral"`` (reported, not asserted).

Each contender is warmed up first (a short ``fit`` that traces the train step), then
the three are timed in turn, ``SMLMSCALE_BENCH_TRAIN_ROUNDS`` rounds in rotated order,
and each keeps its best round. The time of a ``fit`` call is taken up to its
``on_train_end`` callback: it includes the stream's start (a new pass over the stream,
the shuffle buffer filling) and every step. What follows, until ``fit`` returns, is the
teardown of the ``tf.data`` iterator, which on this TensorFlow (2.21) often waits for the
tf.data autotuning thread's next wake-up (10 ms x 2^k: ``fit`` calls end 10.2, 20.5, 41.0
or 81.9 s after they start), whatever feeds the model; the whole call is reported beside
(``call_steps_per_s``). Target: stream steps/s >= 90 % of numpy's, both from this run.

memory (``-k memory``): a patch set 4x the memory budget given to the stream (budget
``SMLMSCALE_BENCH_TRAIN_BUDGET_MIB``, default 256 MiB, so a 1 GiB set of the same
64 x 64 pairs), one whole epoch of the autoencoder (the cheapest model that trains on
deepstorm patches: ~5 steps/s on 2 cores) with batches of 64 streamed as ``train_model``
streams them (``plan_stream(ps, batch_size=64, budget_bytes=budget)``, dihedral
augmentation, targets x 100). Peak memory: the process's peak RSS during the epoch
(``VmHWM``, reset just before through ``/proc/self/clear_refs``, and RSS sampled every
20 ms) minus its RSS just before (after ``gc`` and ``malloc_trim``). The model's own
steps need memory whatever feeds them (activations and gradients: ~100-200 MiB here), so
the same model first runs ``REF_STEPS`` steps on one in-memory batch repeated, measured
the same way; the stream's share is the epoch's growth minus that reference's. Target:
the stream's share <= the budget.

Run with ``python -m pytest benchmarks/test_train.py -o addopts="" -p no:cacheprovider -s``.
Making the patch sets is not timed.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import shutil
import threading
import time

import numpy as np
import psutil
import pytest

from smlmscale.models.kinds import MODEL_KINDS
from smlmscale.train.settings import DEFAULT_BUDGET

pytestmark = pytest.mark.timeout(1800)

MIB = 2**20
SHAPE = (64, 64, 1)
CHUNK = 256
PAIR_BYTES = 2 * int(np.prod(SHAPE)) * 4  # float32 input + target: 32 KiB
SCALE = MODEL_KINDS["deepstorm"].target_scale  # 100: Deep-STORM's target scale

TP_PATCHES = int(os.environ.get("SMLMSCALE_BENCH_TRAIN_PATCHES", 4096))
TP_STEPS = int(os.environ.get("SMLMSCALE_BENCH_TRAIN_STEPS", 40))
TP_ROUNDS = int(os.environ.get("SMLMSCALE_BENCH_TRAIN_ROUNDS", 3))
TP_BATCH = 16
TP_BUDGET = DEFAULT_BUDGET  # 1 GiB, train_model's default
WARMUP_STEPS = 4

MEM_BUDGET = int(os.environ.get("SMLMSCALE_BENCH_TRAIN_BUDGET_MIB", 256)) * MIB
MEM_FACTOR = 4
MEM_PATCHES = math.ceil(MEM_FACTOR * MEM_BUDGET / PAIR_BYTES / CHUNK) * CHUNK
MEM_BATCH = 64
REF_STEPS = 96

RESULTS: dict[str, dict] = {}


# --- data -----------------------------------------------------------------------------------

def _pairs(rng: np.random.Generator, n: int, *, camera: int = 16, up: int = 4,
           most: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """``n`` deepstorm-like pairs, float32 ``(n, 64, 64, 1)``.

    Inputs: 16 x 16 px camera patches of 1-6 emitters (Gaussian PSF, sigma 1 camera px,
    500-3000 photons) on a background of 100 photons with Poisson noise, min-max
    normalized and upsampled 4x (nearest). Targets: a Gaussian of sigma 1 fine px at
    each emitter on the 64 x 64 grid (the heatmap, before the x100 scale).
    """
    count = np.clip(rng.poisson(2.5, n), 1, most)
    on = (np.arange(most)[None, :] < count[:, None]).astype(np.float32)
    pos = rng.uniform(1.0, camera - 1.0, (n, most, 2)).astype(np.float32)
    photons = rng.uniform(500, 3000, (n, most)).astype(np.float32) * on
    centres = np.arange(camera, dtype=np.float32) + 0.5
    gy = np.exp(-0.5 * (centres[None, None, :] - pos[..., 0:1]) ** 2)
    gx = np.exp(-0.5 * (centres[None, None, :] - pos[..., 1:2]) ** 2)
    signal = np.matmul((gy * (photons / (2 * np.pi))[..., None]).transpose(0, 2, 1), gx)
    frames = rng.poisson(signal + 100.0).astype(np.float32)
    low = frames.min(axis=(1, 2), keepdims=True)
    high = frames.max(axis=(1, 2), keepdims=True)
    frames = (frames - low) / np.maximum(high - low, 1.0)
    inputs = frames.repeat(up, axis=1).repeat(up, axis=2)[..., None]
    fine = (np.arange(camera * up, dtype=np.float32) + 0.5) / up
    ty = np.exp(-0.5 * ((fine[None, None, :] - pos[..., 0:1]) * up) ** 2)
    tx = np.exp(-0.5 * ((fine[None, None, :] - pos[..., 1:2]) * up) ** 2)
    targets = np.matmul((ty * on[..., None]).transpose(0, 2, 1), tx)[..., None]
    return inputs.astype(np.float32), targets.astype(np.float32)


def _write_patchset(path, n: int, seed: int):
    """A patch set of ``n`` pairs (no validation split), written one chunk at a time."""
    from smlmscale.patches.patchset import create_patchset, open_patchset

    attrs = {"generator": "deepstorm", "upsampling": 4, "pixel_size_nm": 100.0,
             "split": {"validation_fraction": 0.0, "seed": seed, "n_train": n,
                       "n_validation": 0}}
    ps = create_patchset(path, n=n, input_shape=SHAPE, target_shape=SHAPE, chunk=CHUNK,
                         attrs=attrs)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        inputs, targets = _pairs(np.random.default_rng([seed, start]), stop - start)
        ps.inputs[start:stop] = inputs
        ps.targets[start:stop] = targets
    stored = sum(os.path.getsize(os.path.join(d, f))
                 for d, _, files in os.walk(path) for f in files)
    return open_patchset(path), stored


@pytest.fixture(scope="module")
def tp_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_tp")
    yield _write_patchset(folder / "tp.zarr", TP_PATCHES, seed=1)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def mem_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_mem")
    yield _write_patchset(folder / "mem.zarr", MEM_PATCHES, seed=2)
    shutil.rmtree(folder, ignore_errors=True)


def _compiled(kind: str):
    import keras

    from smlmscale.models import build_model, get_loss

    keras.utils.set_random_seed(0)
    model = build_model(kind, SHAPE, SHAPE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=get_loss("mse"))
    return model


# --- throughput -----------------------------------------------------------------------------

def _end_clock():
    import keras

    class EndClock(keras.callbacks.Callback):
        """When ``fit`` called ``on_train_end``: its last step is done."""

        at = float("nan")

        def on_train_end(self, logs=None) -> None:
            self.at = time.perf_counter()

    return EndClock()


def test_train_throughput(benchmark, tp_set):
    """Steps/s of the deepstorm model fed by the Zarr stream vs in-memory NumPy arrays."""
    from smlmscale.train.stream import patch_stream, plan_stream

    ps, stored = tp_set
    plan = plan_stream(ps, batch_size=TP_BATCH, budget_bytes=TP_BUDGET)
    x = np.asarray(ps.inputs[:])
    y = np.asarray(ps.targets[:]) * np.float32(SCALE)

    def feeder(name):
        if name == "numpy":
            return lambda model, steps, cb: model.fit(
                x, y, batch_size=TP_BATCH, epochs=1, steps_per_epoch=steps, shuffle=True,
                verbose=0, callbacks=cb)
        ds = patch_stream(ps, "train", plan, augment="none" if name == "stream" else name,
                          seed=0, target_scale=SCALE)
        return lambda model, steps, cb: model.fit(ds, epochs=1, steps_per_epoch=steps,
                                                  verbose=0, callbacks=cb)

    names = ["numpy", "stream", "dihedral"]
    contenders = {}
    for name in names:
        model, fit = _compiled("deepstorm"), feeder(name)
        started = time.perf_counter()
        fit(model, WARMUP_STEPS, [])  # traces the train step; not timed
        contenders[name] = (model, fit, time.perf_counter() - started)

    def measure():
        timings = {name: [] for name in names}
        for r in range(TP_ROUNDS):
            for name in names[r % 3:] + names[:r % 3]:  # rotated: load drift spreads out
                model, fit, _ = contenders[name]
                clock = _end_clock()
                started = time.perf_counter()
                history = fit(model, TP_STEPS, [clock])
                timings[name].append((clock.at - started, time.perf_counter() - started))
                assert np.isfinite(history.history["loss"][-1])
        return timings

    timings = benchmark.pedantic(measure, rounds=1, iterations=1)
    out = {"plan": {"cycle_length": plan.cycle_length, "shuffle_patches": plan.shuffle_patches,
                    "prefetch_batches": plan.prefetch_batches,
                    "bytes_mib": round(plan.bytes / MIB, 1)},
           "stored_mib": round(stored / MIB, 1)}
    for name in names:
        out[name] = {"steps_per_s": TP_STEPS / min(t for t, _ in timings[name]),
                     "call_steps_per_s": TP_STEPS / min(c for _, c in timings[name]),
                     "warmup_s": contenders[name][2],
                     "rounds_s": [[round(t, 2), round(c, 2)] for t, c in timings[name]]}
    RESULTS["throughput"] = out


def _throughput_summary() -> dict:
    if "throughput" not in RESULTS:
        pytest.skip("run test_train_throughput first")
    r = RESULTS["throughput"]
    numpy_, stream, dihedral = r["numpy"], r["stream"], r["dihedral"]
    return {
        "patches": TP_PATCHES, "steps_per_fit": TP_STEPS, "rounds": TP_ROUNDS,
        "batch": TP_BATCH, "set_mib": round(TP_PATCHES * PAIR_BYTES / MIB, 1),
        "stored_mib": r["stored_mib"], "plan": r["plan"],
        "numpy_steps_per_s": round(numpy_["steps_per_s"], 3),
        "stream_steps_per_s": round(stream["steps_per_s"], 3),
        "dihedral_steps_per_s": round(dihedral["steps_per_s"], 3),
        "stream_vs_numpy": round(stream["steps_per_s"] / numpy_["steps_per_s"], 3),
        "dihedral_vs_numpy": round(dihedral["steps_per_s"] / numpy_["steps_per_s"], 3),
        "call_steps_per_s": {k: round(r[k]["call_steps_per_s"], 3)
                             for k in ("numpy", "stream", "dihedral")},
        "call_stream_vs_numpy": round(stream["call_steps_per_s"]
                                      / numpy_["call_steps_per_s"], 3),
        "rounds_s_to_end_and_call": {k: r[k]["rounds_s"]
                                     for k in ("numpy", "stream", "dihedral")},
        "warmup_s": {k: round(r[k]["warmup_s"], 1) for k in ("numpy", "stream", "dihedral")},
        "nproc": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    }


def test_train_throughput_target():
    """Prints this run's figures; asserts stream >= 90 % of the in-memory limit."""
    summary = _throughput_summary()
    print("\nTRAIN THROUGHPUT BENCHMARK " + json.dumps(summary))
    assert summary["stream_vs_numpy"] >= 0.9


# --- memory ---------------------------------------------------------------------------------

def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class PeakRSS:
    """Peak RSS of this process while a block runs: ``VmHWM`` (reset on entry through
    ``/proc/self/clear_refs`` where allowed) and RSS sampled every ``interval_s``."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self.before = self.sampled_peak = self.hwm_peak = 0
        self.hwm_reset = False

    def __enter__(self) -> "PeakRSS":
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # start from what is live
        except (OSError, AttributeError):
            pass
        self._proc = psutil.Process()
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # resets VmHWM to the current RSS
            self.hwm_reset = True
        except OSError:
            pass
        self.before = self.sampled_peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.sampled_peak = max(self.sampled_peak, self._proc.memory_info().rss)
            time.sleep(self.interval_s)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.after = self._proc.memory_info().rss
        self.sampled_peak = max(self.sampled_peak, self.after)
        self.hwm_peak = _status_kib("VmHWM") * 1024 if self.hwm_reset else 0

    @property
    def peak(self) -> int:
        return max(self.sampled_peak, self.hwm_peak)

    @property
    def growth(self) -> int:
        return self.peak - self.before


def test_train_memory(benchmark, mem_set):
    """One epoch streamed from a patch set 4x the budget: the RSS growth stays within it."""
    import tensorflow as tf

    from smlmscale.train.stream import patch_stream, plan_stream

    ps, stored = mem_set
    plan = plan_stream(ps, batch_size=MEM_BATCH, budget_bytes=MEM_BUDGET)
    model = _compiled("autoencoder")
    xb = np.asarray(ps.inputs[:MEM_BATCH])
    yb = np.asarray(ps.targets[:MEM_BATCH]) * np.float32(SCALE)

    def constant(steps):  # one in-memory batch, repeated: (None, 64, 64, 1) like the stream
        return tf.data.Dataset.from_tensor_slices((xb, yb)).repeat(steps).batch(MEM_BATCH)

    model.fit(constant(WARMUP_STEPS), epochs=1, verbose=0)  # traces the train step
    with PeakRSS() as reference:  # what the model's own steps add, whatever feeds them
        model.fit(constant(REF_STEPS), epochs=1, verbose=0)
    ds = patch_stream(ps, "train", plan, augment="dihedral", seed=0, target_scale=SCALE)
    steps = math.ceil(len(ps) / MEM_BATCH)

    def epoch():
        with PeakRSS() as memory:
            started = time.perf_counter()
            history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
            seconds = time.perf_counter() - started
        return memory, seconds, history

    memory, seconds, history = benchmark.pedantic(epoch, rounds=1, iterations=1)
    assert len(history.history["loss"]) == 1
    RESULTS["memory"] = {
        "budget_mib": MEM_BUDGET / MIB, "patches": len(ps), "batch": MEM_BATCH,
        "steps": steps, "set_mib": (ps.inputs.nbytes + ps.targets.nbytes) / MIB,
        "stored_mib": stored / MIB,
        "plan": {"cycle_length": plan.cycle_length, "shuffle_patches": plan.shuffle_patches,
                 "prefetch_batches": plan.prefetch_batches,
                 "bytes_mib": round(plan.bytes / MIB, 1)},
        "seconds": seconds,
        "rss_before_mib": memory.before / MIB, "rss_peak_mib": memory.peak / MIB,
        "rss_after_mib": memory.after / MIB,
        "hwm_reset": memory.hwm_reset,
        "growth_mib": memory.growth / MIB,
        "model_steps_growth_mib": reference.growth / MIB,
        "stream_growth_mib": (memory.growth - reference.growth) / MIB,
    }


def test_train_memory_target():
    """Prints this run's figures; asserts the stream's share of the epoch's RSS growth
    (the growth minus what the same model's steps add on a constant in-memory batch)
    <= the budget."""
    if "memory" not in RESULTS:
        pytest.skip("run test_train_memory first")
    m = RESULTS["memory"]
    summary = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in m.items()}
    summary["set_vs_budget"] = round(m["set_mib"] / m["budget_mib"], 2)
    summary["stream_growth_vs_budget"] = round(m["stream_growth_mib"] / m["budget_mib"], 3)
    summary["steps_per_s"] = round(m["steps"] / m["seconds"], 2)
    summary["load_average_1min"] = round(os.getloadavg()[0], 2)
    print("\nTRAIN MEMORY BENCHMARK " + json.dumps(summary))
    assert m["set_mib"] >= MEM_FACTOR * m["budget_mib"]
    assert m["stream_growth_mib"] <= m["budget_mib"]
