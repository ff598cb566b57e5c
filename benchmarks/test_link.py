"""Linking benchmark (issue 17 item 3): ``smlmscale link`` (frame blocks on a LocalCluster
of 2 worker processes x 1 thread, exact seams) against the in-memory reference loop, same
table, same run.

The table: 10^7 localizations (``SMLMSCALE_BENCH_SMALL=1``: 10^6) over 50,000 frames
(small: 10,000), 200 per frame (small: 100) on a 20 um field: binding sites switching on for runs of
geometric length (mean 2.5 frames) with 20 % of the frames missed, 15 nm localization
error with per-axis uncertainties, and 10 % random background points. Written as Parquet
in 16 row groups cut on frame boundaries (16 frame blocks). Linked at ``--radius 50
--max-dark 1``.

- *smlmscale*: :func:`~smlmscale.postprocess.link.prepare_link` + :func:`run_link`, timed
  end to end: reading the Parquet table, linking, seams, merging, the merged table written
  as Parquet.
- *kernel*: the same linker (k-d tree per frame) in this process over the whole in-memory
  table, one core, no I/O: what the partitioning and the cluster buy.
- *loop*: the in-memory reference, a plain Python loop over frames, localizations and open
  tracks (:func:`tests.postprocess.reference.link_reference`). Too slow for the whole table,
  it is timed on the first ``LOOP_FRAMES`` frames and its time extrapolated per
  localization (the table's density is the same in every frame, so its cost per
  localization is too); checked there to give the kernel's tracks exactly.

Run with ``python -m pytest benchmarks/test_link.py -o addopts="" -p no:cacheprovider -s``.
Making the table is not timed.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.timeout(3600)

SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
ROWS = 10**6 if SMALL else 10**7
FRAMES = 10_000 if SMALL else 50_000
FIELD_NM = 20_000.0
LOOP_FRAMES = 200
RADIUS_NM, MAX_DARK = 50.0, 1
RESULTS: dict[str, dict] = {}


def blinking_sites(*, rows: int, frames: int, field_nm: float, seed: int) -> pd.DataFrame:
    """About ``rows`` localizations of sites blinking on for geometric runs, vectorised."""
    rng = np.random.default_rng(seed)
    n_events = int(rows * 0.9 / 2.0)
    length = rng.geometric(0.4, n_events)                  # mean 2.5 frames on
    start = rng.integers(0, frames, n_events)
    site = rng.uniform(0, field_nm, (n_events, 2))
    event = np.repeat(np.arange(n_events), length)
    frame = start[event] + np.arange(len(event)) - np.repeat(np.cumsum(length) - length,
                                                             length)
    keep = (frame < frames) & (rng.random(len(event)) > 0.2)
    event, frame = event[keep], frame[keep]
    noise = rows - len(frame)
    frame = np.concatenate([frame, rng.integers(0, frames, noise)])
    xy = np.concatenate([site[event], rng.uniform(0, field_nm, (noise, 2))])
    n = len(frame)
    sigma = 15.0 * rng.uniform(0.5, 1.5, (n, 2))
    xy = xy + rng.normal(0, 1, (n, 2)) * sigma
    table = pd.DataFrame({"frame": frame.astype(np.int64), "x_nm": xy[:, 0], "y_nm": xy[:, 1],
                          "photons": rng.gamma(4.0, 300.0, n),
                          "uncertainty_x_nm": sigma[:, 0], "uncertainty_y_nm": sigma[:, 1]})
    return table.sort_values("frame", kind="stable", ignore_index=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from smlmscale.io.tables import TableMeta
    from tests.drift.data import write_in_groups

    folder = tmp_path_factory.mktemp("link_bench")
    table = blinking_sites(rows=ROWS, frames=FRAMES, field_nm=FIELD_NM, seed=3)
    cuts = (0,) + tuple(np.linspace(0, FRAMES, 17).astype(int)[1:-1] + 7) + (10**9,)
    path = write_in_groups(table, folder / "locs.parquet", cuts=cuts,
                           meta=TableMeta(pixel_size_nm=100.0, n_frames=FRAMES))
    return folder, path, table


def _link(path, folder, client):
    from smlmscale.postprocess.link import LinkSettings, prepare_link, run_link

    started = time.perf_counter()
    plan = prepare_link(path, folder / "linked.parquet", blocksize=1, overwrite=True,
                        settings=LinkSettings(radius_nm=RADIUS_NM, max_dark=MAX_DARK))
    result = run_link(plan, client=client)
    return time.perf_counter() - started, result


def test_link_vs_in_memory_loop(benchmark, data, cluster_client):
    from smlmscale.postprocess.link_kernel import link_block
    from tests.postprocess.reference import link_reference

    folder, path, table = data
    seconds, result = benchmark.pedantic(lambda: _link(path, folder, cluster_client),
                                         rounds=1, iterations=1)
    started = time.perf_counter()
    track, links = link_block(table, block=0, radius_nm=RADIUS_NM, max_dark=MAX_DARK,
                              head_frames=1)
    kernel_s = time.perf_counter() - started
    subset = table[table["frame"] < LOOP_FRAMES]
    started = time.perf_counter()
    loop_track = link_reference(subset, radius_nm=RADIUS_NM, max_dark=MAX_DARK)
    loop_subset_s = time.perf_counter() - started
    loop_s = loop_subset_s * len(table) / len(subset)
    np.testing.assert_array_equal(loop_track, track[:len(subset)])
    RESULTS["link"] = {
        "rows": len(table), "frames": FRAMES, "radius_nm": RADIUS_NM, "max_dark": MAX_DARK,
        "blocks": result.blocks, "relinked_blocks": result.relinked,
        "tracks": result.tracks, "merged_rows": result.rows,
        "smlmscale_seconds": seconds, "kernel_one_core_seconds": kernel_s,
        "loop_subset": {"rows": len(subset), "frames": LOOP_FRAMES,
                        "seconds": loop_subset_s},
        "loop_seconds_extrapolated": loop_s,
        "ratio_loop_over_smlmscale": loop_s / seconds,
        "ratio_kernel_over_smlmscale": kernel_s / seconds}
    print(json.dumps(RESULTS["link"], indent=1))
    assert result.tracks == links.n_tracks and result.localizations == len(table)
