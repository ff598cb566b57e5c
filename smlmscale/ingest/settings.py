"""How to ingest: the settings of ``smlmscale ingest`` (fields carry limits, units, help)."""

from __future__ import annotations

from dataclasses import dataclass

from smlmscale.errors import InputError
from smlmscale.ingest.layout import DEFAULT_TILE_PX, LARGE_FRAME_PX, TARGET_CHUNK_BYTES
from smlmscale.io.ome_zarr import COMPRESSORS
from smlmscale.settings import Settings, setting


@dataclass(frozen=True)
class IngestSettings(Settings):
    """How to ingest (built by the CLI from its options).

    Attributes
    ----------
    pixel_size_nm : float, optional
        Overrides the pixel size found in the metadata (nm).
    channel, position : int, optional
        ND2/CZI files of several channels or positions (scenes): the one ingested
        (0-based).
    chunk_frames, tile_px, shard_frames : int, optional
        Layout (see :func:`smlmscale.ingest.layout.choose_layout`).
    compressor : {"zstd", "lz4", "none"}
    zarr_format : {3, 2}
        3 for NGFF 0.5 (default), 2 for NGFF 0.4.
    resume : bool
        Continue an interrupted ingest from ``OUT.partial``.
    overwrite : bool
        Replace an existing output (only once the new one is complete).
    """

    pixel_size_nm: float | None = setting(
        None, min=0, min_open=True, unit="nm", help="Pixel size (overrides the metadata)",
        default_text="from the metadata")
    channel: int | None = setting(None, min=0, help="ND2/CZI: the channel ingested (0-based)",
                                  default_text="the only one")
    position: int | None = setting(None, min=0,
                                   help="ND2/CZI: the position (scene) ingested (0-based)",
                                   default_text="the only one")
    chunk_frames: int | None = setting(
        None, min=1, help="Frames per chunk",
        default_text=f"about {TARGET_CHUNK_BYTES // 2**20} MiB per chunk")
    tile_px: int | None = setting(
        None, min=1, unit="px", help="Chunk edge in y,x",
        default_text=f"whole frame; {DEFAULT_TILE_PX} above {LARGE_FRAME_PX} px")
    shard_frames: int | None = setting(
        None, min=1, flag="--shards",
        help="Frames per shard (Zarr v3), a multiple of the chunk frames", default_text="none")
    compressor: str = setting(
        "zstd", choices=COMPRESSORS, help=f"{', '.join(COMPRESSORS)} (Blosc with bit shuffle)",
        message=f"unknown compressor {{value}}; use one of {', '.join(COMPRESSORS)}")
    zarr_format: int = setting(3, choices=(3, 2), help="3: NGFF 0.5; 2: NGFF 0.4",
                               message="unknown Zarr format {value}; use 2 or 3")
    resume: bool = setting(False, help="Continue an interrupted ingest (OUT.partial)")
    overwrite: bool = setting(False,
                              help="Replace an existing output once the new one is complete")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.shard_frames is not None and self.zarr_format == 2:
            raise InputError("sharding needs Zarr format 3",
                             hint="drop --shards or use --zarr-format 3")


__all__ = ["IngestSettings"]
