"""Ingest of the formats beyond TIFF (issue 17, item 1): throughput per format.

One camera-like movie (512 x 512 uint16; 256 MiB, or 64 MiB with
``SMLMSCALE_BENCH_SMALL=1``) written as a contiguous TIFF, Picasso ``.raw`` (+ ``.yaml``),
``.dax`` (+ ``.inf``, big-endian), ND2 (built byte by byte, as in the tests) and CZI
(pylibCZIrw's writer). For each format: ``ingest_tiffs`` on the LocalCluster ``smlmscale``
starts (2 workers x 1 thread), and the naive baseline of a notebook: the whole movie read
eagerly with the format's own reader (tifffile.imread, numpy.fromfile, nd2.imread,
pylibCZIrw plane by plane), then one Zarr write of the same layout. Every file is read
once before timing, so all are in the page cache, and every timed run follows an untimed
one (imports, the workers' first tasks). No target is named in the issue: the
figures are recorded, and each ingested store is checked against the movie.

Run: ``.venv/bin/python -m pytest benchmarks/test_ingest_formats.py -o addopts="" -s``.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest

SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
FRAME = (512, 512)
N_FRAMES = (128 if SMALL else 512)
FORMATS = ("tif", "raw", "dax", "nd2", "czi")
RESULTS: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    """The movie and its file in every format (read once, so all are in the page cache)."""
    import tifffile

    from tests.io.vendor_files import write_czi, write_nd2
    from tests.rawdata import write_dax, write_picasso_raw

    rng = np.random.default_rng(0)
    movie = rng.poisson(12.0, size=(N_FRAMES, *FRAME)).astype(np.uint16) + 100
    folder = tmp_path_factory.mktemp("formats")
    tifffile.imwrite(folder / "m.tif", movie, contiguous=True)
    paths = {"tif": folder / "m.tif",
             "raw": write_picasso_raw(folder / "m.raw", movie, pixel_size_nm=107.0),
             "dax": write_dax(folder / "m.dax", movie),
             "nd2": write_nd2(folder / "m.nd2", movie, "TYX", pixel_size_um=0.107),
             "czi": write_czi(folder / "m.czi", movie[None, :, None], pixel_size_nm=107.0)}
    for path in paths.values():
        path.read_bytes()
    yield movie, paths
    shutil.rmtree(folder, ignore_errors=True)


def _read_eagerly(kind: str, path) -> np.ndarray:
    """The whole movie with the format's own reader, as a notebook would."""
    if kind == "tif":
        import tifffile

        return tifffile.imread(path)
    if kind in ("raw", "dax"):
        dtype = "<u2" if kind == "raw" else ">u2"
        return np.fromfile(path, dtype=dtype).reshape(-1, *FRAME).astype(np.uint16)
    if kind == "nd2":
        import nd2

        return nd2.imread(str(path))
    from pylibCZIrw import czi

    with czi.open_czi(str(path)) as reader:
        n = reader.total_bounding_box_no_pyramid["T"][1]
        return np.stack([reader.read(plane={"T": t, "C": 0})[..., 0] for t in range(n)])


def _naive(kind: str, path, out) -> float:
    import zarr

    from smlmscale.ingest.layout import choose_layout
    from smlmscale.io.ome_zarr import compressor_codecs

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    data = _read_eagerly(kind, path)
    layout = choose_layout(data.shape, data.dtype)
    array = zarr.create_array(str(out), shape=data.shape, dtype=data.dtype,
                              chunks=layout.chunks,
                              compressors=compressor_codecs("zstd", zarr_format=3, itemsize=2))
    array[:] = data
    os.sync()
    return time.perf_counter() - started


@pytest.mark.parametrize("kind", FORMATS)
def test_naive_read_then_write(benchmark, movies, tmp_path, kind):
    movie, paths = movies
    seconds = benchmark.pedantic(_naive, args=(kind, paths[kind], tmp_path / "naive.zarr"),
                                 rounds=1, iterations=1, warmup_rounds=1)
    RESULTS.setdefault(kind, {})["naive_s"] = seconds


@pytest.mark.parametrize("kind", FORMATS)
def test_smlmscale_ingest(benchmark, cluster_client, movies, tmp_path, kind):
    from smlmscale.ingest import IngestSettings, ingest_tiffs
    from smlmscale.io.ome_zarr import open_image_store

    movie, paths = movies
    out = tmp_path / "ingest.zarr"

    def ingest() -> float:
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        ingest_tiffs([paths[kind]], out, client=cluster_client,
                     settings=IngestSettings(pixel_size_nm=107.0 if kind in ("tif", "dax")
                                                 else None))
        os.sync()
        return time.perf_counter() - started

    seconds = benchmark.pedantic(ingest, rounds=1, iterations=1, warmup_rounds=1)
    store = open_image_store(out)
    assert store.pixel_size_nm == pytest.approx(107.0, rel=1e-6)   # given for TIFF, .dax
    np.testing.assert_array_equal(store.array[:], movie)
    RESULTS.setdefault(kind, {})["ingest_s"] = seconds


def test_summary(movies):
    """Per format: MiB/s of ingest and of the naive baseline, their ratio, and ingest's
    throughput relative to the TIFF ingest of the same movie."""
    movie, _ = movies
    if any({"naive_s", "ingest_s"} - RESULTS.get(k, {}).keys() for k in FORMATS):
        pytest.skip("run the whole module")
    mib = movie.nbytes / 2**20
    rows = {k: {"ingest_mib_s": round(mib / r["ingest_s"], 1),
                "naive_mib_s": round(mib / r["naive_s"], 1),
                "speedup_vs_naive": round(r["naive_s"] / r["ingest_s"], 2),
                "vs_tiff_ingest": round(RESULTS["tif"]["ingest_s"] / r["ingest_s"], 2)}
            for k, r in RESULTS.items()}
    print("\nINGEST FORMATS BENCHMARK " + json.dumps({"movie_mib": mib, **rows}))
