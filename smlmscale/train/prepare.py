"""The cheap checks of a training run, before TensorFlow trains anything: a :class:`TrainPlan`.

:func:`prepare_train` opens the patch set's header, checks that the model trains on its
generator and fits its geometry (from the model's record, without ``keras``), sizes the
input stream to the memory budget, checks the output (or reads what an interrupted run
left, for ``--resume``) and refuses ``--mixed-precision`` without a GPU. It writes nothing;
:func:`smlmscale.train.run.run_train` trains the plan.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.io.outputs import check_output, partial_path, utc_now
from smlmscale.models.kinds import model_kind
from smlmscale.patches.patchset import PatchSet, open_patchset
from smlmscale.train.resume import (RUN_FILE, ResumeState, compare_run, interrupted_run,
                                    resume_state, run_record, stored_settings)
from smlmscale.train.settings import TrainSettings, check_generator
from smlmscale.train.simparams import SimTrainSettings, check_sim_model
from smlmscale.train.stream import StreamPlan, plan_stream, split_selection

#: Steps per epoch of a ``--simulate`` run when ``--steps-per-epoch`` is not given.
DEFAULT_SIM_STEPS = 500
#: What to do about an interrupted run, when a new one is asked for.
RESUME_HINT = "pass --resume to continue it or --overwrite to start again"


@dataclass(frozen=True)
class TrainPlan:
    """A checked training run (:func:`prepare_train`): nothing written yet.

    Attributes
    ----------
    patchset : PatchSet or None
        The patch set, opened (header only); None with ``--simulate``.
    output : str
        The model folder to write (absolute).
    settings : TrainSettings
        The run's settings (an interrupted run's, with ``epochs`` as given, on resume).
    record : dict
        ``train.json``: settings and patch-set identity, command, start time.
    stream : StreamPlan
        How the input stream is sized.
    validation : bool
        Whether the patch set has a validation split (else the training loss is monitored).
    resume, overwrite : bool
        Continue the interrupted run in ``OUT.partial``; replace an existing output.
    state : ResumeState
        What the run continues from (epoch 0 for a new run).
    command : str or None
        The command line, for provenance.
    simulation : SimTrainSettings or None
        The simulated data of ``--simulate`` (then ``patchset`` is None).
    mask_learning : MaskLearning or None
        What ``--learn-mask`` images with (:mod:`smlmscale.train.mask_learning`).
    """

    patchset: PatchSet | None
    output: str
    settings: TrainSettings
    record: dict
    stream: StreamPlan
    validation: bool
    resume: bool = False
    overwrite: bool = False
    state: ResumeState = field(default_factory=ResumeState)
    command: str | None = None
    simulation: SimTrainSettings | None = None
    mask_learning: Any = None

    @property
    def attrs(self) -> dict[str, Any]:
        """The data's attributes: the patch set's, or those simulated data would have."""
        return self.simulation.attrs() if self.simulation is not None else dict(
            self.patchset.attrs)

    @property
    def model_params(self) -> dict[str, Any]:
        """The data's attributes with the model's own options (``--dilation-max`` ...)
        merged in: what the model's builder, loss and geometry read."""
        return {**self.attrs, **self.settings.model_options()}

    @property
    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(input_shape, target_shape)`` of one pair."""
        if self.simulation is not None:
            return self.simulation.input_shape, self.simulation.target_shape
        return tuple(self.patchset.inputs.shape[1:]), tuple(self.patchset.targets.shape[1:])

    @property
    def data_name(self) -> str:
        """The data's name, for titles: the patch set's folder or ``simulation``."""
        return "simulation" if self.patchset is None else Path(self.patchset.path).name

    @property
    def partial(self) -> Path:
        """``OUT.partial``, where the run is built."""
        return Path(partial_path(self.output))


def prepare_train(patches: str | os.PathLike | None, output: str | os.PathLike, *,
                  settings: TrainSettings | None = None, resume: bool = False,
                  overwrite: bool = False, given: Mapping[str, Any] | None = None,
                  command: str | None = None,
                  simulate: str | os.PathLike | None = None) -> TrainPlan:
    """Check a training run without training: patch set, model fit, output, resume state.

    Parameters
    ----------
    patches : str or os.PathLike or None
        A patch set from ``smlmscale patches`` (None with ``simulate``).
    output : str or os.PathLike
        The model folder to write.
    settings : TrainSettings, optional
        Settings of a new run; built from ``given`` when None.
    resume : bool, optional
        Continue the interrupted run in ``OUT.partial``: its settings are used, and of
        ``given`` only ``epochs`` may differ from them.
    overwrite : bool, optional
        Replace an existing output (once the new one is complete) and discard an
        interrupted run.
    given : mapping, optional
        Settings given by the user (None values ignored).
    command : str, optional
        The command line, for provenance.
    simulate : str or os.PathLike, optional
        A ``--simulate`` YAML file (:class:`~smlmscale.train.simparams.SimTrainSettings`):
        train on data simulated on the fly instead of ``patches`` (exactly one of them).

    Returns
    -------
    TrainPlan

    Raises
    ------
    InputError
        ``resume`` with ``overwrite``; bad settings; not a patch set, one of the wrong
        kind, geometry, empty or with an empty training split; a memory budget too small;
        an existing output or interrupted run; nothing to resume, changed settings,
        another patch set or an unreadable checkpoint state; mixed precision without a GPU.
    """
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other",
                         hint="--resume continues an interrupted run, --overwrite starts again")
    if (patches is None) == (simulate is None):
        raise InputError("give either PATCHES.zarr or --simulate PARAMS.yaml, not "
                         + ("both" if simulate is not None else "neither"),
                         hint="--simulate trains locnet on data simulated on the fly")
    given = {k: v for k, v in (given or {}).items() if v is not None}
    if settings is None:
        settings = TrainSettings.from_mapping(given)
    if simulate is not None:
        return prepare_simulated(simulate, output, settings=settings, resume=resume,
                                 overwrite=overwrite, given=given, command=command)
    if settings.steps_per_epoch is not None:
        raise InputError("--steps-per-epoch applies to --simulate only",
                         hint="an epoch over a patch set is one pass over its training split")
    ps = open_patchset(patches)
    final = os.path.abspath(os.fspath(output))
    partial = Path(partial_path(final))
    state = ResumeState()
    if resume:
        stored = interrupted_run(Path(final), partial)
        source = partial / RUN_FILE
        settings = stored_settings(stored, source=source).merged(given)
        record = run_record(settings, ps, command=stored.get("command"),
                            started=str(stored.get("started", "")))
        compare_run(stored, record, source=source)
    else:
        check_output(final, overwrite=overwrite, resume_hint=RESUME_HINT)
        record = run_record(settings, ps, command=command, started=utc_now())
    _check_patchset(ps, settings)
    learning = None
    if settings.learn_mask:
        from smlmscale.train.mask_learning import prepare_mask_learning

        learning = prepare_mask_learning(settings.psf, ps)
    stream = plan_stream(ps, batch_size=settings.batch_size, budget_bytes=settings.memory_budget)
    if resume:
        state = resume_state(partial, stored)
    _check_arithmetic(settings)
    return TrainPlan(patchset=ps, output=final, settings=settings, record=record,
                     stream=stream, validation=bool(split_selection(ps, "validation")[1].sum()),
                     resume=resume, overwrite=overwrite, state=state, command=command,
                     mask_learning=learning)


def _check_arithmetic(settings: TrainSettings) -> None:
    """Refuse ``--mixed-precision`` without a GPU, or with ``--precision bfloat16``."""
    if settings.mixed_precision:
        from smlmscale.train.devices import check_arithmetic

        check_arithmetic(settings.precision, mixed=True)


def prepare_simulated(simulate: str | os.PathLike, output: str | os.PathLike, *,
                      settings: TrainSettings, resume: bool, overwrite: bool,
                      given: Mapping[str, Any], command: str | None) -> TrainPlan:
    """:func:`prepare_train` of a ``--simulate`` run (the YAML is read and checked here;
    a resumed run must be given the same YAML content)."""
    sim = SimTrainSettings.from_file(simulate)
    final = os.path.abspath(os.fspath(output))
    partial = Path(partial_path(final))
    state = ResumeState()
    source = os.path.abspath(os.fspath(simulate))
    if resume:
        stored = interrupted_run(Path(final), partial)
        settings = stored_settings(stored, source=partial / RUN_FILE).merged(given)
        record = run_record(settings, None, command=stored.get("command"),
                            started=str(stored.get("started", "")), simulation=sim,
                            simulate_file=source)
        compare_run(stored, record, source=partial / RUN_FILE)
    else:
        check_output(final, overwrite=overwrite, resume_hint=RESUME_HINT)
        record = run_record(settings, None, command=command, started=utc_now(),
                            simulation=sim, simulate_file=source)
    check_sim_model(settings.model)
    model_kind(settings.model).check_geometry(sim.input_shape, sim.target_shape)
    steps = settings.steps_per_epoch or DEFAULT_SIM_STEPS
    settings = settings.replace(steps_per_epoch=steps)
    pair = 4 * (int(np.prod(sim.input_shape)) + int(np.prod(sim.target_shape)))
    stream = StreamPlan(batch_size=settings.batch_size, cycle_length=1, shuffle_patches=0,
                        prefetch_batches=2, pair_bytes=pair, chunk_patches=settings.batch_size)
    if resume:
        state = resume_state(partial, stored)
    _check_arithmetic(settings)
    return TrainPlan(patchset=None, output=final, settings=settings, record=record,
                     stream=stream, validation=True, resume=resume, overwrite=overwrite,
                     state=state, command=command, simulation=sim)


def _check_patchset(ps: PatchSet, settings: TrainSettings) -> None:
    """The model trains on this patch set: its generator, size, split and geometry."""
    check_generator(settings.model, ps.attrs.get("generator"), ps.path)
    if len(ps) == 0:
        raise InputError("the patch set is empty", path=ps.path,
                         hint="make it again with more frames or a lower --min-emitters")
    split_selection(ps, "train")
    model_kind(settings.model).check_geometry(ps.inputs.shape[1:], ps.targets.shape[1:],
                                              {**ps.attrs, **settings.model_options()})


__all__ = ["TrainPlan", "prepare_simulated", "prepare_train"]
