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

from smlmscale.errors import InputError
from smlmscale.io.outputs import check_output, partial_path, utc_now
from smlmscale.models.kinds import model_kind
from smlmscale.patches.patchset import PatchSet, open_patchset
from smlmscale.train.resume import (RUN_FILE, ResumeState, compare_run, interrupted_run,
                                    resume_state, run_record, stored_settings)
from smlmscale.train.settings import TrainSettings, check_generator
from smlmscale.train.stream import StreamPlan, plan_stream, split_selection

#: What to do about an interrupted run, when a new one is asked for.
RESUME_HINT = "pass --resume to continue it or --overwrite to start again"


@dataclass(frozen=True)
class TrainPlan:
    """A checked training run (:func:`prepare_train`): nothing written yet.

    Attributes
    ----------
    patchset : PatchSet
        The patch set, opened (header only).
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
    """

    patchset: PatchSet
    output: str
    settings: TrainSettings
    record: dict
    stream: StreamPlan
    validation: bool
    resume: bool = False
    overwrite: bool = False
    state: ResumeState = field(default_factory=ResumeState)
    command: str | None = None

    @property
    def partial(self) -> Path:
        """``OUT.partial``, where the run is built."""
        return Path(partial_path(self.output))


def prepare_train(patches: str | os.PathLike, output: str | os.PathLike, *,
                  settings: TrainSettings | None = None, resume: bool = False,
                  overwrite: bool = False, given: Mapping[str, Any] | None = None,
                  command: str | None = None) -> TrainPlan:
    """Check a training run without training: patch set, model fit, output, resume state.

    Parameters
    ----------
    patches : str or os.PathLike
        A patch set from ``smlmscale patches``.
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
    given = {k: v for k, v in (given or {}).items() if v is not None}
    if settings is None:
        settings = TrainSettings.from_mapping(given)
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
    stream = plan_stream(ps, batch_size=settings.batch_size, budget_bytes=settings.memory_budget)
    if resume:
        state = resume_state(partial, stored)
    if settings.mixed_precision:
        from smlmscale.train.devices import check_precision

        check_precision(True)
    return TrainPlan(patchset=ps, output=final, settings=settings, record=record,
                     stream=stream, validation=bool(split_selection(ps, "validation")[1].sum()),
                     resume=resume, overwrite=overwrite, state=state, command=command)


def _check_patchset(ps: PatchSet, settings: TrainSettings) -> None:
    """The model trains on this patch set: its generator, size, split and geometry."""
    check_generator(settings.model, ps.attrs.get("generator"), ps.path)
    if len(ps) == 0:
        raise InputError("the patch set is empty", path=ps.path,
                         hint="make it again with more frames or a lower --min-emitters")
    split_selection(ps, "train")
    model_kind(settings.model).check_geometry(ps.inputs.shape[1:], ps.targets.shape[1:])


__all__ = ["TrainPlan", "prepare_train"]
