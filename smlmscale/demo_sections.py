"""The demo's second half: a serial-section stack to 3D clusters (seed 000), on the cluster.

simulate sections -> preprocess (soft saturation, blur) -> patches counts -> train counts ->
predict --rois (3D points) -> cluster (tile sequences, DBSCAN) -> the recovered clusters
matched by centroid to the simulated ones. Each step calls the library function the CLI
command calls and reports the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SectionDemoSettings:
    """The section-stack demo (the seed's geometry: STORM-tiffs at 15.5 nm, 64 px tiles).

    Attributes
    ----------
    n_sections, size_px, n_clusters : int
        Stack: sections of ``size_px`` square, synapse-like clusters in it.
    pixel_size_nm, section_thickness_nm : float
    steps : str
        Preprocessing (``smlmscale preprocess --steps``): the seed's soft saturation and blur.
    train_epochs, batch_size : int
    eps_nm, eps_z_nm : float
        DBSCAN radii, lateral and axial (two sections), nm.
    min_samples : int
    randomize : int
        Randomized copies of each cluster (the control).
    match_nm : float
        Centroid distance within which a recovered cluster matches a simulated one, nm.
    seed : int
    """

    n_sections: int = 16
    size_px: int = 384
    n_clusters: int = 12
    pixel_size_nm: float = 15.5
    section_thickness_nm: float = 70.0
    steps: str = "saturate:knee=0.5; blur:sigma=1.0"
    train_epochs: int = 10
    batch_size: int = 8
    eps_nm: float = 80.0
    eps_z_nm: float = 140.0
    min_samples: int = 10
    randomize: int = 5
    match_nm: float = 200.0
    seed: int = 3


def run_section_demo(out: Path, *, client, settings: SectionDemoSettings,
                     report: Callable[[str], None], command: str | None = None,
                     shown: Callable[[Path], str] = str) -> dict:
    """Run the section pipeline into ``out``; return its figures (paths, counts, recovery)."""
    import pandas as pd

    from smlmscale.cluster.match import match_clusters
    from smlmscale.cluster.run import ClusterSettings, cluster_table
    from smlmscale.patches.run import make_patches
    from smlmscale.predict.run_sections import predict_sections
    from smlmscale.preprocess.run import preprocess_store
    from smlmscale.simulate.sections import SectionSettings, simulate_sections
    from smlmscale.train.run import train_model
    from smlmscale.train.settings import TrainSettings

    s = settings
    sim = simulate_sections(out / "sections.zarr", client=client, command=command,
                            settings=SectionSettings(
                                n_sections=s.n_sections, size_px=s.size_px,
                                n_clusters=s.n_clusters, pixel_size_nm=s.pixel_size_nm,
                                section_thickness_nm=s.section_thickness_nm, seed=s.seed))
    report(f"$ smlmscale simulate --kind sections -o {shown(Path(sim['path']))} --sections "
           f"{s.n_sections} --size {s.size_px} --clusters {s.n_clusters} --pixel-size "
           f"{s.pixel_size_nm:g} --seed {s.seed}")
    report(f"  {sim['n_localizations']} localizations in {s.n_clusters} clusters, "
           f"{sim['n_rois']} ROI tiles -> {shown(Path(sim['rois_path']))}")
    pre = out / "sections_pre.zarr"
    preprocess_store(sim["path"], pre, steps=s.steps, client=client, command=command)
    report(f'$ smlmscale preprocess {shown(Path(sim["path"]))} -o {shown(pre)} '
           f'--steps "{s.steps}"')
    patches = make_patches(pre, out / "counts.zarr", locs=sim["truth_path"], kind="counts",
                           rois=sim["rois_path"], client=client, command=command)
    report(f"$ smlmscale patches {shown(pre)} --locs {shown(Path(sim['truth_path']))} --rois "
           f"{shown(Path(sim['rois_path']))} -o {shown(out / 'counts.zarr')} --kind counts")
    report(f"  {patches.n_patches} tiles, inputs {list(patches.input_shape)}")
    trained = train_model(patches.path, out / "model_counts", command=command,
                          settings=TrainSettings(model="counts", epochs=s.train_epochs,
                                                 batch_size=s.batch_size, seed=s.seed))
    report(f"$ smlmscale train {shown(out / 'counts.zarr')} -o {shown(out / 'model_counts')} "
           f"--model counts --epochs {s.train_epochs}")
    report(f"  kept epoch {trained.best_epoch}: {trained.monitor} {trained.best:.4g} "
           f"(epoch 1: {trained.first:.4g}), {trained.seconds:.0f} s")
    points = out / "points3d.parquet"
    predicted = predict_sections(pre, trained.path, points, rois=sim["rois_path"],
                                 client=client, command=command)
    report(f"$ smlmscale predict {shown(pre)} --model {shown(out / 'model_counts')} --rois "
           f"{shown(Path(sim['rois_path']))} -o {shown(points)} --section-thickness "
           f"{s.section_thickness_nm:g}")
    report(f"  {predicted.points} 3D points (simulated: {sim['n_localizations']})")
    clusters = out / "clusters"
    result = cluster_table(points, clusters, client=client, rois=sim["rois_path"],
                           command=command, settings=ClusterSettings(
                               mode="sequences", eps_nm=s.eps_nm, eps_z_nm=s.eps_z_nm,
                               min_samples=s.min_samples, randomize=s.randomize,
                               seed=s.seed, section_thickness_nm=s.section_thickness_nm))
    report(f"$ smlmscale cluster {shown(points)} --rois {shown(Path(sim['rois_path']))} -o "
           f"{shown(clusters)} --eps {s.eps_nm:g} --eps-z {s.eps_z_nm:g} --min-samples "
           f"{s.min_samples} --randomize {s.randomize}")
    found = pd.read_parquet(clusters / "properties.parquet")
    truth = pd.read_parquet(sim["clusters_path"])
    truth = truth[truth["n_localizations"] >= s.min_samples]
    match = match_clusters(found, truth, tolerance_nm=s.match_nm)
    report(f"  {result.clusters} clusters in {result.sequences} sequences; "
           f"{100 * result.clustered / max(result.localizations, 1):.0f} % of the points "
           f"clustered; median {found['n_localizations'].median():.0f} localizations, "
           f"radius of gyration {found['radius_of_gyration_nm'].median():.0f} nm, hull volume "
           f"{found['hull_volume_nm3'].median() / 1e9:.3g} um^3; histograms "
           f"{shown(clusters / 'histograms.png')}")
    report(f"  recovered {match.matched} of {match.truth} simulated clusters "
           f"({100 * match.recovered:.0f} %) within {s.match_nm:g} nm, centroids off by "
           f"{match.distance_nm:.0f} nm on average")
    return {"sections": sim["path"], "points3d": str(points), "clusters": str(clusters),
            "n_clusters": result.clusters, "recovered": match.recovered,
            "matched": match.matched, "simulated_clusters": match.truth}


__all__ = ["SectionDemoSettings", "run_section_demo"]
