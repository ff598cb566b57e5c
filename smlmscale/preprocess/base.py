"""The contract every preprocessing step follows, and the CPU/GPU backend.

A step module defines

* a frozen :class:`StepParams` dataclass of parameters whose fields carry their
  units, limits and defaults (checked by the shared settings check; checks across
  parameters in ``validate``, raising :class:`~smlmscale.errors.InputError`);
* a kernel: ``(t, y, x)`` block in, block out, computed with ``backend.xp`` and
  ``backend.ndimage`` so the same code runs on NumPy/SciPy and CuPy;
* a graph builder ``build(movie, params, backend) -> movie``: lazy dask array in
  and out (:func:`~smlmscale.preprocess.overlap.map_frames_overlap`, with a halo
  derived from the parameters, for spatial filters; reductions or overlap along t
  for temporal ones), never computing;
* ``STEP = Step(name=..., params=..., build=..., summary=..., positional=...)``: the
  step's one record, which :mod:`~smlmscale.preprocess.registry` collects.

The pipeline moves the movie to the device once (:meth:`Backend.to_device`),
runs every step's graph builder on device chunks, and moves the result back to
host memory once (:meth:`Backend.to_host`) before writing.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from smlmscale.errors import InputError
from smlmscale.settings import Settings, field_meta, flag_of, split_optional, type_hints


class StepParams(Settings):
    """Base of the steps' parameters: frozen dataclasses of :func:`~smlmscale.settings.setting`
    fields, checked by the shared :func:`~smlmscale.settings.check`.

    Values are read as ``--steps`` writes them before the shared check: text is
    stripped and lower-cased (``mode=Percentile``), a whole float is an integer where an
    integer is wanted (``radius=6.0``) and another float is refused as not whole, and
    text outside a field's ``choices`` is named as unknown. Errors name a parameter as
    ``"<step>: <name>"`` (``settings_prefix``). Checks across parameters go in
    :meth:`validate`.
    """

    settings_prefix: ClassVar[str] = ""

    def __post_init__(self) -> None:
        _read_as_steps(self)
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Checks across parameters (after every field is checked); none by default."""


def _read_as_steps(params: Any) -> None:
    """Read the fields of ``params`` as ``--steps`` writes them (see :class:`StepParams`)."""
    hints = type_hints(type(params))
    for field in dataclasses.fields(params):
        value, (kind, _) = getattr(params, field.name), split_optional(hints[field.name])
        flag = flag_of(params, field.name)
        if kind is str and isinstance(value, str):
            value = value.strip().lower()
            choices = field_meta(field).get("choices")
            if choices is not None and value not in choices:
                raise InputError(f"{params.settings_prefix}unknown {field.name} {value!r}",
                                 hint=f"use one of {', '.join(choices)}", param=field.name,
                                 flag=flag)
        elif kind is int and isinstance(value, float):
            if not value.is_integer():
                raise InputError(f"{{flag}} must be a whole number, got {value!r}",
                                 param=field.name, flag=flag)
            value = int(value)
        object.__setattr__(params, field.name, value)


@dataclass(frozen=True)
class Step:
    """One preprocessing step: everything the pipeline and ``--steps`` need to know.

    Attributes
    ----------
    name : str
        As written in ``--steps`` (``"blur"``).
    params : type
        The :class:`StepParams` of the step; its fields are the valid parameter
        names and its defaults the documented defaults.
    build : callable
        ``build(movie, params, backend) -> movie``: the lazy graph builder.
    summary : str
        One line for ``--help`` and error messages.
    positional : str, optional
        The field a bare first value sets (``blur:1.5`` is ``blur:sigma=1.5``).
    halo_px : callable, optional
        ``halo_px(params) -> int``: the spatial halo (y and x, px) that makes the
        chunked result exact, for steps built on
        :func:`~smlmscale.preprocess.overlap.map_frames_overlap`; None for the others.
    """

    name: str
    params: type
    build: Callable[[Any, Any, "Backend"], Any]
    summary: str
    positional: str | None = None
    halo_px: Callable[[Any], int] | None = None


@dataclass(frozen=True)
class Device:
    """Where kernels run: an array library and its ``ndimage``, and how chunks get there.

    Attributes
    ----------
    name : str
        As written in ``--device``.
    array_module, ndimage_module : str
        Imported when first used (CuPy only on a GPU).
    to_device, to_host : str, optional
        Functions of ``array_module`` moving a chunk from host memory to the device
        and back; None where chunks stay in host memory.
    buffered_filters : bool
        ``ndimage`` filters read each line through a buffer, so their output may be
        their input (SciPy), saving an allocation.
    unavailable : callable
        ``unavailable() -> (message, hint)`` when the device cannot be used here,
        else None.
    """

    name: str
    array_module: str
    ndimage_module: str
    to_device: str | None = None
    to_host: str | None = None
    buffered_filters: bool = False
    unavailable: Callable[[], tuple[str, str] | None] = lambda: None


def _gpu_unavailable() -> tuple[str, str] | None:
    from smlmscale.runtime import gpu_count

    if gpu_count() == 0:
        return "--device gpu: no GPU found", "use --device cpu or auto"
    try:
        import cupy  # noqa: F401
        import cupyx.scipy.ndimage  # noqa: F401
    except ImportError:
        return ("--device gpu needs CuPy, which is not installed",
                "pip install 'smlmscale[gpu]', or use --device cpu")
    return None


#: The devices by name, and the order ``--device auto`` tries them in.
DEVICE_TABLE = {
    "cpu": Device("cpu", "numpy", "scipy.ndimage", buffered_filters=True),
    "gpu": Device("gpu", "cupy", "cupyx.scipy.ndimage", to_device="asarray", to_host="asnumpy",
                  unavailable=_gpu_unavailable),
}
AUTO_ORDER = ("gpu", "cpu")
DEVICES = (*DEVICE_TABLE, "auto")


@dataclass(frozen=True)
class Backend:
    """Array library for kernels: NumPy + SciPy on ``"cpu"``, CuPy + cupyx on ``"gpu"``.

    CuPy is imported only when a ``"gpu"`` backend is used.
    """

    device: str = "cpu"

    @property
    def spec(self) -> Device:
        """The :class:`Device` record."""
        return DEVICE_TABLE[self.device]

    @property
    def xp(self):
        """``numpy`` or ``cupy``."""
        return importlib.import_module(self.spec.array_module)

    @property
    def ndimage(self):
        """``scipy.ndimage`` or ``cupyx.scipy.ndimage``."""
        return importlib.import_module(self.spec.ndimage_module)

    def to_device(self, movie):
        """The dask array with its chunks on the device (a no-op on the CPU)."""
        return self._move(movie, self.spec.to_device, self.xp)

    def to_host(self, movie):
        """The dask array with NumPy chunks again (a no-op on the CPU)."""
        import numpy

        return self._move(movie, self.spec.to_host, numpy)

    def _move(self, movie, function: str | None, target):
        if function is None:
            return movie
        return movie.map_blocks(getattr(self.xp, function), dtype=movie.dtype,
                                meta=target.empty((0,) * movie.ndim, dtype=movie.dtype))


def resolve_backend(device: str = "cpu") -> Backend:
    """The backend for ``--device cpu|gpu|auto``.

    Raises
    ------
    InputError
        Unknown device, or ``"gpu"`` without a usable GPU and CuPy.
    """
    device = device.strip().lower()
    if device not in DEVICES:
        raise InputError(f"unknown device {device!r}", hint=f"use one of {', '.join(DEVICES)}")
    for name in AUTO_ORDER if device == "auto" else (device,):
        problem = DEVICE_TABLE[name].unavailable()
        if problem is None:
            return Backend(name)
        if device != "auto":
            raise InputError(problem[0], hint=problem[1])
    raise InputError("no device is usable")  # the CPU always is: not reached
