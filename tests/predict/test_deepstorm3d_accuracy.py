"""A deepstorm3d model trained here on simulated astigmatic frames localizes a separate
movie in 3D: its axial RMSE beats the best fixed-z guess at least 3x (issue 16).

Training data as the seed makes it: independent 16 px frames of 1-3 emitters each
(``num_particles_range``), z uniform in -600..600 nm; a small network (32 filters,
maximal dilation 4), 21 z voxels, lateral upsampling 2 and 12 epochs of batch 4
(about 2 minutes on 2 cores; measured: Jaccard 0.85, axial RMSE 80 nm against 363 nm
for the fixed guess). The test movie is another seed, 32 px frames of 2-6 emitters.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_deepstorm3d_axial_rmse_beats_a_fixed_z_guess_3x(client, tmp_path):
    from smlmscale.evaluate import EvaluateSettings, evaluate_tables
    from smlmscale.io.tables import read_table
    from smlmscale.patches.run import make_patches
    from smlmscale.predict.run import predict_movie
    from smlmscale.predict.settings import PredictSettings
    from smlmscale.simulate import EmitterSettings, MovieSettings, simulate_movie
    from smlmscale.simulate.instrument import PsfSettings
    from smlmscale.train.run import train_model

    psf = PsfSettings(model="astigmatic", z_range_nm=(-600.0, 600.0))
    train = simulate_movie(tmp_path / "train.zarr", client=client, settings=MovieSettings(
        frames=1500, size_px=16, seed=1, psf=psf,
        emitters=EmitterSettings(per_frame_range=(1, 3))))
    test = simulate_movie(tmp_path / "test.zarr", client=client, settings=MovieSettings(
        frames=60, size_px=32, seed=7, psf=psf,
        emitters=EmitterSettings(per_frame_range=(2, 6))))
    patches = make_patches(train.path, tmp_path / "ps.zarr", locs=train.truth_path,
                           kind="deepstorm3d", client=client, settings={
                               "patch_size_px": 16, "per_frame": 1, "z_voxels": 21,
                               "upsampling": 2, "z_range_nm": (-600.0, 600.0)})
    model = train_model(patches.path, tmp_path / "model", given={
        "model": "deepstorm3d", "epochs": 12, "batch_size": 4, "filters": 32,
        "dilation_max": 4, "lr": 1e-3, "lr_patience": 3, "patience": 6, "seed": 0})
    predict_movie(test.path, model.path, tmp_path / "locs.csv", client=client,
                  format="deepstorm3d", settings=PredictSettings(threshold=0.05))
    locs = read_table(tmp_path / "locs.csv")[0]
    truth = read_table(test.truth_path)[0]
    truth = truth[truth["detectable"] == 1].reset_index(drop=True)
    result = evaluate_tables(locs, truth, settings=EvaluateSettings(
        tolerance_lateral_nm=250.0, tolerance_axial_nm=1e6))
    matched_z = truth["z_nm"].to_numpy()[result.pairs.truth_index]
    fixed_rmse = float(matched_z.std())  # the best constant guess: their mean
    print(f"deepstorm3d: Jaccard {result.jaccard:.3f}, lateral RMSE "
          f"{result.rmse_lateral_nm:.1f} nm, axial RMSE {result.rmse_axial_nm:.1f} nm, "
          f"fixed-z guess {fixed_rmse:.1f} nm, {len(matched_z)} pairs")
    assert len(matched_z) > 0.5 * len(truth) and result.jaccard > 0.5
    assert 3 * result.rmse_axial_nm <= fixed_rmse, (result.rmse_axial_nm, fixed_rmse)
    assert np.abs(locs["z_nm"]).max() <= 600.0
