"""What ``smlmscale demo`` reads between its steps: figures from the files a step wrote,
and the small tables no command makes (the truth cut to the predicted frames, a jittered
copy of the truth)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from smlmscale.errors import InputError

MARKER = ".smlmscale-demo"


def prepare_folder(out_dir: str | os.PathLike, *, overwrite: bool) -> Path:
    """Create the demo folder; replace an earlier demo's folder only with ``overwrite``.

    A folder that exists and was not made by the demo is never touched.

    Raises
    ------
    InputError
        The folder holds files and was not made by the demo; or it was, without
        ``overwrite``.
    """
    out = Path(out_dir)
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise InputError("folder exists and is not a smlmscale demo folder", path=out,
                             hint="choose another -o")
        if (out / MARKER).exists() and not overwrite:
            raise InputError("demo output exists", path=out, hint="pass --overwrite to redo it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by smlmscale demo; --overwrite replaces this folder\n")
    return out


def jitter_table(truth: pd.DataFrame, *, jitter_nm: float, drop_fraction: float,
                 spurious_fraction: float, field_nm: tuple[float, float],
                 seed: int) -> pd.DataFrame:
    """A stand-in prediction: the truth with Gaussian position errors, misses and false hits.

    Parameters
    ----------
    truth : pandas.DataFrame
        Canonical table (``frame``, ``x_nm``, ``y_nm``, ...).
    jitter_nm : float
        Standard deviation of the error on x and y, nm.
    drop_fraction, spurious_fraction : float
        Fraction of truth rows removed; number of uniform random rows added, as a
        fraction of the truth's rows.
    field_nm : (float, float)
        ``(height, width)`` of the field in nm, where spurious rows fall.
    seed : int
        Seeds the drops, the errors and the spurious rows.

    Returns
    -------
    pandas.DataFrame
        ``frame``, ``x_nm``, ``y_nm``, sorted by frame.
    """
    rng = np.random.default_rng(seed)
    kept = truth.loc[rng.random(len(truth)) >= drop_fraction, ["frame", "x_nm", "y_nm"]]
    kept = kept.assign(x_nm=kept["x_nm"] + rng.normal(0, jitter_nm, len(kept)),
                       y_nm=kept["y_nm"] + rng.normal(0, jitter_nm, len(kept)))
    n_spurious = int(round(spurious_fraction * len(truth)))
    spurious = pd.DataFrame({
        "frame": rng.integers(0, int(truth["frame"].max()) + 1, n_spurious),
        "x_nm": rng.uniform(0, field_nm[1], n_spurious),
        "y_nm": rng.uniform(0, field_nm[0], n_spurious)})
    table = pd.concat([kept, spurious], ignore_index=True)
    return table.sort_values("frame", kind="stable").reset_index(drop=True)


def write_truth_of_frames(truth_path: Path, output: Path, *, frames: int) -> None:
    """The truth of frames ``0 .. frames - 1``, detectable emitters only, as a table.

    What ``predict --frames 0:N`` predicted is scored against this (``evaluate`` scores
    whole tables; no command cuts one to some frames).
    """
    from smlmscale.io.tables import read_table, write_table

    truth, meta = read_table(truth_path)
    truth = truth[truth["frame"] < frames]
    if "detectable" in truth:
        truth = truth[truth["detectable"] == 1]
    write_table(truth.reset_index(drop=True), output, meta=meta)


def write_jittered(truth_path: Path, output: Path, *, field_nm: tuple[float, float],
                   jitter_nm: float, drop_fraction: float, spurious_fraction: float,
                   seed: int) -> None:
    """Write :func:`jitter_table` of the truth: a known reference for the metrics
    (``field_nm``: ``(height, width)`` of the movie, nm)."""
    from smlmscale.io.tables import TableMeta, read_table, write_table

    truth, meta = read_table(truth_path)
    table = jitter_table(truth, jitter_nm=jitter_nm, drop_fraction=drop_fraction,
                         spurious_fraction=spurious_fraction, field_nm=field_nm, seed=seed)
    write_table(table, output, meta=TableMeta(pixel_size_nm=meta.pixel_size_nm))


def scores(stdout: str) -> dict:
    """The metrics ``evaluate --json`` printed (its last line of output)."""
    return json.loads(stdout.strip().splitlines()[-1])


def scores_line(s: dict) -> str:
    """``Jaccard ..., RMSE lateral ... nm, efficiency ... %``."""
    return (f"Jaccard {s['jaccard']:.3f}, RMSE lateral {s['rmse_lateral_nm']:.1f} nm, "
            f"efficiency {s['efficiency_lateral']:.1f} %")


@dataclass(frozen=True)
class Trained:
    """A model folder's training record (``smlmscale.json``, ``history.csv``).

    ``epochs`` is the planned number; ``seconds`` sums the epochs' durations, s.
    """

    path: str
    curve: str
    epochs: int
    history: pd.DataFrame
    monitor: str
    best_epoch: int
    best: float
    first: float
    seconds: float
    device: str

    @classmethod
    def read(cls, model_dir: Path) -> Trained:
        from smlmscale.io.modeldir import read_history, read_model_json

        training = read_model_json(model_dir)["training"]
        history = read_history(model_dir)
        monitor = training["monitor"]
        return cls(path=str(model_dir), curve=str(model_dir / "training_curve.png"),
                   epochs=int(training["epochs"]), history=history, monitor=monitor, best_epoch=int(training["best_epoch"]),
                   best=float(training[f"best_{monitor}"]), first=float(history[monitor].iloc[0]),
                   seconds=float(history["seconds"].sum()), device=str(training["device"]))

    def epoch_lines(self) -> list[str]:
        """``epoch 1/6: loss ..., val_loss ..., 11.2 s``, one per epoch."""
        return [f"epoch {int(row.epoch)}/{self.epochs}: loss {row.loss:.4g}, val_loss "
                f"{getattr(row, 'val_loss', float('nan')):.4g}, {row.seconds:.1f} s"
                for row in self.history.itertuples()]

    def kept_line(self) -> str:
        """``kept epoch 5: val_loss ... (epoch 1: ...), 42 s``."""
        return (f"kept epoch {self.best_epoch}: {self.monitor} {self.best:.4g} "
                f"(epoch 1: {self.first:.4g}), {self.seconds:.0f} s")
