"""Outputs that never appear half-written: build in ``OUT.partial``, rename when complete.

Every stage writes through :func:`staged_output`::

    with staged_output(out, overwrite=overwrite, resume=resume, record=run) as staged:
        ...  # build everything in staged.path
    # here the output is in place, complete

It checks the target (:func:`check_output`, which ``prepare_<stage>`` also calls
before a cluster starts), builds in ``OUT.partial`` (a folder) or a hidden temporary
sibling (a file), compares the record of an interrupted run when resuming, removes the
partial output on error unless the run can be resumed, and renames it into place on
success. An existing output is replaced only after the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from smlmscale.errors import InputError

#: The record of an interrupted run, inside ``OUT.partial``, unless a stage names another.
RUN_RECORD = "smlmscale-run.json"


def partial_path(output: str | os.PathLike) -> str:
    """Where a folder output is built before it is complete: ``OUT.partial`` beside it."""
    return os.path.abspath(os.fspath(output)).rstrip(os.sep) + ".partial"


def check_output(output: str | os.PathLike, *, overwrite: bool = False, resume: bool = False,
                 kind: Literal["folder", "file"] = "folder",
                 resume_hint: str = "pass --resume to continue it (ingest) or --overwrite "
                                    "to start again",
                 exists_hint: str = "pass --overwrite to replace it, or choose another -o",
                 work_folder: bool = False) -> None:
    """Refuse an output that exists (or an interrupted one) unless told what to do.

    Cheap and local: ``prepare_<stage>`` calls it before a cluster starts.

    Parameters
    ----------
    output : str or os.PathLike
        The folder (a Zarr store, a model, ``clusters/``) or file to write.
    overwrite : bool
        Replace an existing output (and discard an interrupted one).
    resume : bool
        An interrupted ``OUT.partial`` is continued, so it is not refused.
    kind : {"folder", "file"}
        What the output is; a file output has no ``OUT.partial``.
    resume_hint : str
        What to do about an interrupted run, in the message.
    exists_hint : str
        What to do about an existing output, in the message.
    work_folder : bool
        A file output built through a work folder ``OUT.partial`` (a table assembled
        from parts): an interrupted one is refused as for folders.

    Raises
    ------
    InputError
        ``output`` exists and ``overwrite`` is false; it is a file where a folder is
        written, or the reverse; ``OUT.partial`` exists and neither ``resume`` nor
        ``overwrite`` is set; the output's folder does not exist.
    """
    final = os.path.abspath(os.fspath(output))
    if kind == "folder" and os.path.isfile(final):
        raise InputError("output is a file, not a Zarr directory or folder", path=final,
                         hint="choose another -o")
    if kind == "file" and os.path.isdir(final):
        raise InputError("output is a folder, not a file", path=final,
                         hint="choose another output file")
    if os.path.exists(final) and not overwrite:
        raise InputError("output exists", path=final, hint=exists_hint)
    if (kind == "folder" or work_folder) and os.path.exists(partial_path(final)) \
            and not (resume or overwrite):
        raise InputError("an interrupted run left this", path=partial_path(final),
                         hint=resume_hint)
    parent = os.path.dirname(final)
    if not os.path.isdir(parent):
        raise InputError("the output's folder does not exist", path=parent,
                         hint="create it first")


#: What to do about an existing plot (not ``-o``), in the message.
PLOT_EXISTS_HINT = "pass --overwrite to replace it"


def check_plot_path(path: str | os.PathLike, *, overwrite: bool = False,
                    what: str = "plot") -> Path:
    """Refuse a plot path that exists (without ``overwrite``), is a folder, or is not ``.png``;
    ``what`` names it in the message (``"the FRC plot must be a .png file"``)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"the {what} must be a .png file", path=path)
    check_output(path, kind="file", overwrite=overwrite, exists_hint=PLOT_EXISTS_HINT)
    return path


def check_outputs(paths: Sequence[str | os.PathLike], *, overwrite: bool,
                  kind: Literal["folder", "file"] = "file") -> None:
    """:func:`check_output` for each of ``paths``."""
    for path in paths:
        check_output(path, overwrite=overwrite, kind=kind)


@dataclass
class Staged:
    """An output being built (yielded by :func:`staged_output`).

    Attributes
    ----------
    final : pathlib.Path
        Where the output appears when complete.
    path : pathlib.Path
        Where it is built: ``OUT.partial`` (a folder, created) or a temporary sibling
        file (not created).
    resumed : bool
        Whether ``path`` holds an interrupted run that is continued.
    stored : dict or None
        The interrupted run's record when resumed.
    record_name : str
        The record's file name inside ``path``.
    """

    final: Path
    path: Path
    resumed: bool = False
    stored: dict | None = None
    record_name: str = RUN_RECORD
    keep_on_error: bool = False

    def write_record(self, record: Mapping[str, Any]) -> None:
        """Write (or rewrite) the run's record inside the partial folder, atomically."""
        write_json(self.path / self.record_name, record)


def read_record(path: str | os.PathLike, *, what: str | None = None,
                hint: str = "start again with --overwrite") -> dict:
    """A JSON record (an object) written by :func:`write_json`.

    Raises
    ------
    InputError
        The file is missing, unreadable, or not a JSON object.
    """
    path = Path(path)
    what = what or path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"cannot resume: the interrupted run has no {what}", path=path,
                         hint=hint) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot resume: {what} cannot be read ({exc})", path=path,
                         hint=hint) from None
    if not isinstance(data, dict):
        raise InputError(f"cannot resume: {what} is malformed", path=path, hint=hint)
    return data


def read_output_record(folder: str | os.PathLike, name: str, *, kind: str, what: str,
                       writer: str) -> dict:
    """The JSON record ``name`` (``"kind": kind``) of a finished output folder.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder (a model, a ``clusters/`` folder).
    name : str
        The record's file name inside it (``smlmscale.json``, ``cluster.json``).
    kind : str
        The record's ``"kind"``.
    what : str
        What the folder is, in messages (``"model folder"``).
    writer : str
        The command that writes such folders, in hints (``"smlmscale train"``).

    Raises
    ------
    InputError
        No such folder, no record, an unreadable record, or a record of another kind.
    """
    folder = Path(os.fspath(folder))
    path = folder / name
    if not folder.is_dir():
        raise InputError(f"no such {what}", path=str(folder),
                         hint=f"give the folder `{writer} -o` wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"not a {what}: it has no {name}", path=str(folder),
                         hint=f"give a folder written by {writer}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{name} cannot be read ({exc})", path=str(path)) from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise InputError(f"{name} does not describe a {what}", path=str(path))
    return data


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """``data`` as indented JSON, written to a temporary name and renamed."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_text(json.dumps(data, indent=2, default=_plain) + "\n", encoding="utf-8")
    os.replace(temp, path)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def record_differences(stored: Mapping[str, Any], record: Mapping[str, Any],
                       changeable: Sequence[str] = ()) -> list[str]:
    """Keys whose values differ between two records, those in ``changeable`` left out.

    >>> record_differences({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4})
    ['b', 'c']
    """
    return sorted(k for k in set(stored) | set(record)
                  if k not in changeable and stored.get(k) != record.get(k))


def _refuse_changes(changed: list[str], partial: Path) -> None:
    raise InputError(f"cannot resume: the interrupted run had other {', '.join(changed)}",
                     path=partial, hint="give the same options, or start again with --overwrite")


@contextlib.contextmanager
def staged_output(output: str | os.PathLike, *, overwrite: bool = False, resume: bool = False,
                  record: Mapping[str, Any] | None = None, record_name: str = RUN_RECORD,
                  changeable: Sequence[str] = (),
                  compare: Callable[[dict, Mapping[str, Any]], None] | None = None,
                  kind: Literal["folder", "file"] = "folder", optional_resume: bool = False,
                  discard_interrupted: bool = False, keep_on_error: bool | None = None,
                  resume_hint: str = "pass --resume to continue it or --overwrite to start "
                                     "again",
                  exists_hint: str = "pass --overwrite to replace it, or choose another -o",
                  work_folder: bool = False, create: Callable[[Path], None] | None = None,
                  drop_record: bool = False) -> Iterator[Staged]:
    """Build an output in ``OUT.partial`` (or a temporary file) and rename it when complete.

    Parameters
    ----------
    output : str or os.PathLike
        The output folder or file.
    overwrite : bool
        Replace an existing output once the new one is complete; discard an interrupted one.
    resume : bool
        Continue an interrupted ``OUT.partial`` whose record equals ``record``.
    record : mapping, optional
        What the run was asked (JSON-able), written into the partial folder as
        ``record_name`` when it starts and compared when it resumes.
    record_name : str
        The record's file name.
    changeable : sequence of str
        Keys of the record that may differ on resume.
    compare : callable, optional
        ``compare(stored, record)`` raises :class:`InputError` when the interrupted run
        cannot be continued; replaces the comparison of keys.
    kind : {"folder", "file"}
        A folder is built in ``OUT.partial``; a file in a hidden temporary sibling, never
        resumed.
    optional_resume : bool
        With ``resume``: start afresh when there is nothing to resume, instead of refusing.
    discard_interrupted : bool
        Silently replace an interrupted run that cannot be resumed (deterministic stages
        such as ``simulate``), instead of refusing it.
    keep_on_error : bool, optional
        Keep ``OUT.partial`` when the block fails. Default: when the run has a record
        (it can be resumed).
    resume_hint : str
        What to do about an interrupted run, in the message.
    exists_hint : str
        What to do about an existing output, in the message.
    work_folder : bool
        With ``kind="file"``: ``OUT.partial`` is a work folder (parts and a record,
        resumable as a folder output is) for a file the block writes itself, atomically
        (a table assembled from parts); on success the folder is removed, not renamed.
    create : callable, optional
        ``create(partial)`` fills a new (empty) ``OUT.partial`` before the record is
        written into it, e.g. a Zarr store, which is only created in an empty folder.
    drop_record : bool
        Remove the record when the output is complete: it only serves an interrupted run.

    Yields
    ------
    Staged

    Raises
    ------
    InputError
        As :func:`check_output`; ``resume`` with nothing to resume; an interrupted run
        with another record; an unreadable record.
    """
    final = Path(os.path.abspath(os.fspath(output)))
    if kind == "file" and not work_folder:
        check_output(final, overwrite=overwrite, kind="file", exists_hint=exists_hint)
        staged = Staged(final=final, path=final.with_name(
            f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"))
        try:
            yield staged
            os.replace(staged.path, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged.path)
        return
    partial = Path(partial_path(final))
    check_output(final, overwrite=overwrite, resume=resume or discard_interrupted,
                 resume_hint=resume_hint, exists_hint=exists_hint, kind=kind,
                 work_folder=work_folder)
    staged = Staged(final=final, path=partial, record_name=record_name,
                    keep_on_error=(record is not None) if keep_on_error is None
                    else keep_on_error)
    if partial.exists() and resume:
        stored = read_record(partial / record_name)
        if compare is not None:
            compare(stored, record or {})
        else:
            changed = record_differences(stored, record or {}, changeable)
            if changed:
                _refuse_changes(changed, partial)
        staged.resumed, staged.stored = True, stored
    elif resume and not optional_resume:
        raise InputError("nothing to resume: no interrupted run here", path=partial,
                         hint="leave out --resume")
    if not staged.resumed:
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir()
        if create is not None:
            create(partial)
        if record is not None:
            staged.write_record(record)
    try:
        yield staged
    except BaseException:
        if not staged.keep_on_error:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if drop_record:
        (partial / record_name).unlink(missing_ok=True)
    if work_folder:
        shutil.rmtree(partial, ignore_errors=True)
    else:
        move_into_place(partial, final)


def move_into_place(partial: str | os.PathLike, final: str | os.PathLike) -> None:
    """Rename a finished output (file or folder) over ``final``.

    An existing ``final`` is renamed aside first and removed only after the new
    output is in place.
    """
    partial, final = os.fspath(partial), os.fspath(final)
    old = None
    if os.path.exists(final):
        old = f"{final}.replaced-{os.getpid()}"
        os.replace(final, old)
    os.replace(partial, final)
    if old is not None:
        if os.path.isdir(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.remove(old)


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the second (for provenance)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = ["PLOT_EXISTS_HINT", "RUN_RECORD", "Staged", "check_output", "check_outputs",
           "check_plot_path", "move_into_place", "partial_path", "read_output_record",
           "read_record", "record_differences", "staged_output", "utc_now", "write_json"]
