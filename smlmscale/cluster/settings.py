"""The settings of ``smlmscale cluster``: one frozen dataclass of :func:`setting` fields."""

from __future__ import annotations

from dataclasses import dataclass

from smlmscale.cluster.coords import check_eps
from smlmscale.errors import InputError
from smlmscale.settings import Settings, setting

MODES = ("sequences", "global")


@dataclass(frozen=True)
class ClusterSettings(Settings):
    """How ``smlmscale cluster`` clusters (built by the CLI).

    Attributes
    ----------
    mode : {"sequences", "global"}
        DBSCAN per tile sequence (needs an ROI list), or exact DBSCAN of the whole table.
    eps_nm : float
        Lateral neighbourhood radius, nm (> 0).
    min_samples : int
        Points (itself included) within the neighbourhood of a core point (>= 1).
    eps_z_nm : float or None
        Axial neighbourhood radius, nm (None: ``eps_nm``).
    randomize : int
        Randomized copies of every cluster for the control (0: none).
    seed : int
        Seed of the randomization (per cluster and repeat, see :mod:`.randomize`).
    section_thickness_nm : float or None
        Section thickness for the hulls, nm (None: see :mod:`.run`).
    pixel_size_nm : float or None
        The ROI list's pixel, nm (None: the table's).
    min_overlap_px : int
        Least shared area, px, linking tiles of consecutive sections.
    sequences_per_task, points_per_task : int
        Sequences mode: a task gets on average at most this many sequences and points.
        Global mode: ``points_per_task`` is the points of a spatial block.

    Examples
    --------
    >>> ClusterSettings(mode="global", eps_nm=60).to_mapping()["eps_nm"]
    60.0
    """

    mode: str = setting("sequences", help="sequences: DBSCAN per ROI tile sequence (needs "
                        "--rois); global: exact DBSCAN of the whole table")
    eps_nm: float = setting(80.0, unit="nm", help="Lateral neighbourhood radius")
    min_samples: int = setting(10, help="Points (itself included) within --eps of a core "
                                        "point")
    eps_z_nm: float | None = setting(None, unit="nm", help="Axial neighbourhood radius",
                                     default_text="--eps")
    randomize: int = setting(0, min=0, help="Also compute the properties of N randomized "
                                            "copies of every cluster (the random control)")
    seed: int = setting(0, min=0, help="Seed of the randomization")
    section_thickness_nm: float | None = setting(
        None, min=0, min_open=True, unit="nm", help="Section thickness for the hulls",
        default_text="the table's own, or the spacing of section-centre z values")
    pixel_size_nm: float | None = setting(None, min=0, min_open=True, unit="nm",
                                          help="Pixel of the ROI list",
                                          default_text="the table's")
    min_overlap_px: int = setting(1, min=1, unit="px", help="Least shared area linking "
                                                            "tiles of consecutive sections")
    sequences_per_task: int = setting(1000, min=1, help="Sequences per task (on average, "
                                                        "at most)")
    points_per_task: int = setting(500_000, min=1, help="Points per task (global mode: per "
                                                        "spatial block)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in MODES:
            raise InputError(f"{{flag}} must be sequences or global, got {self.mode!r}",
                             hint="sequences clusters ROI tile sequences (--rois), global "
                                  "the whole table", param="mode", flag="--mode")
        check_eps(self.eps_nm, self.eps_z_nm, self.min_samples)


__all__ = ["ClusterSettings", "MODES"]
