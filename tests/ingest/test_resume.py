"""Resuming an interrupted ingest: verified regions are kept, the result is identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile
import zarr

from smlmscale.errors import InputError
from smlmscale.ingest import IngestSettings, ingest_tiffs, partial_path
from smlmscale.ingest.manifest import MANIFEST_NAME, Manifest
from smlmscale.io.ome_zarr import open_image_store
from tests.tiffdata import write_tiff


class Interrupt(Exception):
    pass


def _interrupt_after(n):
    def progress(done, total, nbytes):
        if done >= n:
            raise Interrupt
    return progress


def test_resume_verifies_and_rewrites_a_corrupted_region(client, tmp_path, movie):
    src = write_tiff(tmp_path / "m.tif", movie)
    out = tmp_path / "m.zarr"
    settings = IngestSettings(chunk_frames=4)
    with pytest.raises(Interrupt):
        ingest_tiffs([src], out, client=client, settings=settings, progress=_interrupt_after(5))
    partial = partial_path(out)
    assert not out.exists() and os.path.isdir(partial)
    done = Manifest.load(partial).done
    assert len(done) >= 5
    corrupted = min(done)
    array = zarr.open_array(partial, path="0", mode="r+")
    array[corrupted * 4:(corrupted + 1) * 4] = 7  # silently damaged on disk
    with pytest.raises(InputError, match="--resume"):
        ingest_tiffs([src], out, client=client, settings=settings)  # must ask to resume
    result = ingest_tiffs([src], out, client=client,
                          settings=IngestSettings(chunk_frames=4, resume=True))
    np.testing.assert_array_equal(open_image_store(out).array[:], movie)
    assert result.regions_reused == len(done) - 1
    assert result.regions_written == result.regions_total - len(done) + 1
    assert not os.path.exists(partial) and not (out / MANIFEST_NAME).exists()


def test_resume_with_other_settings_is_refused(client, tmp_path, movie):
    src = write_tiff(tmp_path / "m.tif", movie)
    out = tmp_path / "m.zarr"
    with pytest.raises(Interrupt):
        ingest_tiffs([src], out, client=client, settings=IngestSettings(chunk_frames=4),
                     progress=_interrupt_after(2))
    with pytest.raises(InputError, match="different chunks"):
        ingest_tiffs([src], out, client=client,
                     settings=IngestSettings(chunk_frames=8, resume=True))
    # --overwrite starts again from scratch
    ingest_tiffs([src], out, client=client, settings=IngestSettings(chunk_frames=8, overwrite=True))
    np.testing.assert_array_equal(open_image_store(out).array[:], movie)


def test_torn_manifest_line_is_ignored(tmp_path):
    manifest = Manifest.create(str(tmp_path))
    manifest.record(0, 123)
    with open(manifest.path, "a") as fh:
        fh.write('{"region": 1, "crc')  # the writer was killed mid-line
    assert Manifest.load(str(tmp_path)).done == {0: 123}


def test_killed_ingest_resumes_to_the_identical_array(tmp_path):
    """SIGKILL a real `smlmscale ingest` (and its workers) mid-run, then --resume."""
    rng = np.random.default_rng(1)
    data = rng.integers(0, 5000, size=(1500, 96, 96), dtype=np.uint16)
    src = tmp_path / "big.tif"
    tifffile.imwrite(src, data, compression="zlib")  # decoding keeps each region busy
    out = tmp_path / "big.zarr"
    cmd = [sys.executable, "-m", "smlmscale", "--quiet", "--workers", "1",
           "--threads-per-worker", "1", "ingest", str(src), "-o", str(out), "--chunk-frames", "1"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    manifest = os.path.join(partial_path(out), MANIFEST_NAME)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(manifest) and sum(1 for _ in open(manifest)) > 40:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "ingest finished before it could be killed"
    assert not out.exists()
    recorded = len(Manifest.load(partial_path(out)).done)
    assert 0 < recorded < 1500
    resume = [arg for arg in cmd if arg != "--quiet"] + ["--resume"]
    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(open_image_store(out).array[:], data)
    assert f"{recorded} verified from the earlier run" in resumed.stderr
