"""The ``OUT.partial`` folder of a prediction run: its parts, resume checks, and the task loop.

A run writes one Parquet part per task into ``OUT.partial/parts`` and records what it was
asked in ``OUT.partial/predict.json``. ``--resume`` keeps the parts of an interrupted run
when it was asked the same; the table is assembled from the parts only when all exist.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from smlmscale.errors import InputError

RUN_FILE = "predict.json"


def part_rows(path: str) -> int:
    """Rows of a Parquet part, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def table_from_parts(files: Sequence[str], output, *, meta, overwrite: bool, partial: Path,
                     empty: InputError) -> int:
    """Write the table of the Parquet parts ``files``, in their order; the rows written.

    When the parts hold no row, ``partial`` is removed and ``empty`` raised instead.
    """
    import dask.dataframe as dd

    from smlmscale.io.tables import write_table

    rows = sum(part_rows(f) for f in files)
    if rows == 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise empty
    write_table(dd.read_parquet(list(files), split_row_groups=False), output, meta=meta,
                overwrite=overwrite)
    return rows


def prepare_partial(partial: Path, run: dict, *, resume: bool, overwrite: bool,
                    density_out=None) -> bool:
    """Create ``OUT.partial`` (or check the one to resume); whether parts were kept.

    Raises
    ------
    InputError
        An existing density output; an interrupted run without ``resume``/``overwrite``;
        ``resume`` with nothing to resume, an unreadable record, or other settings.
    """
    if density_out is not None and Path(density_out).exists() and not overwrite:
        raise InputError("output exists", path=str(density_out),
                         hint="pass --overwrite to replace it, or choose another --density-out")
    if partial.exists():
        if resume:
            try:
                was = json.loads((partial / RUN_FILE).read_text())
            except (OSError, ValueError):
                raise InputError("cannot resume: the interrupted run left no readable "
                                 f"{RUN_FILE}", path=str(partial),
                                 hint="start again with --overwrite") from None
            if was != run:
                changed = sorted(k for k in set(run) | set(was) if was.get(k) != run.get(k))
                raise InputError(f"cannot resume: the interrupted run had other "
                                 f"{', '.join(changed)}", path=str(partial),
                                 hint="give the same options, or start again with --overwrite")
            return True
        if not overwrite:
            raise InputError("an interrupted run left this", path=str(partial),
                             hint="pass --resume to continue it or --overwrite to start again")
        shutil.rmtree(partial)
    elif resume:
        raise InputError("nothing to resume: no interrupted run here", path=str(partial),
                         hint="leave out --resume")
    (partial / "parts").mkdir(parents=True)
    (partial / RUN_FILE).write_text(json.dumps(run, indent=2))
    return False


def run_tasks(client, function: Callable, jobs: Sequence[Any], *args: Any, total: int,
              name: Callable[[Any], str],
              progress: Callable[[int, int], None] | None = None) -> None:
    """``function(job, *args)`` for every job on the cluster, two retries each.

    ``name(job)`` labels the task keys (for the dashboard; a per-run token keeps them
    unique); ``progress(done, total)`` counts ``total - len(jobs)`` resumed tasks as done.
    """
    from smlmscale.runtime.completed import completed_results

    done = total - len(jobs)
    if progress is not None:
        progress(done, total)
    if not jobs:
        return
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(function, job, *args, retries=2, key=f"{name(job)}-{token}")
               for job in jobs]
    with completed_results(client, futures) as results:
        for _ in results:
            done += 1
            if progress is not None:
                progress(done, total)


__all__ = ["RUN_FILE", "part_rows", "prepare_partial", "run_tasks", "table_from_parts"]
