"""TIFF (files, series, folders of frames) -> chunked OME-Zarr, resumable, across a cluster."""

from smlmscale.ingest.run import (IngestPlan, IngestResult, IngestSettings, check_output,
                                  ingest_tiffs, partial_path, prepare_ingest, run_ingest)

__all__ = ["IngestPlan", "IngestResult", "IngestSettings", "check_output", "ingest_tiffs",
           "partial_path", "prepare_ingest", "run_ingest"]
