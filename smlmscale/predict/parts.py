"""The work folder ``OUT.partial`` of a prediction run: its parts, and the task loop.

A run writes one Parquet part per task into ``OUT.partial/parts`` and records what it was
asked in ``OUT.partial/predict.json`` (:func:`smlmscale.io.outputs.staged_output`
compares it on ``--resume``, which keeps the parts of an interrupted run asked the same);
the table is assembled from the parts only when all exist.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from smlmscale.errors import InputError

#: The record of what a run was asked, inside ``OUT.partial``.
RUN_FILE = "predict.json"


@contextlib.contextmanager
def staged_parts(plan) -> Iterator[Any]:
    """The staged work folder of a run (a :class:`~smlmscale.predict.plan.PredictPlan`),
    with its ``parts`` folder; kept when the run fails, for ``--resume``."""
    from smlmscale.io.outputs import staged_output

    with staged_output(plan.output, kind="file", work_folder=True, resume=plan.resume,
                       overwrite=plan.overwrite, record=plan.record, record_name=RUN_FILE,
                       keep_on_error=True) as staged:
        (staged.path / "parts").mkdir(exist_ok=True)
        yield staged


def part_rows(path: str) -> int:
    """Rows of a Parquet part, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def table_from_parts(files: Sequence[str], output, *, meta, overwrite: bool,
                     empty: InputError, discard: Sequence[Any] = (),
                     format: str | None = None) -> int:
    """Write the table of the Parquet parts ``files``, in their order; the rows written.

    ``format`` names the table format (default: from the extension).

    When the parts hold no row, ``empty`` is raised instead, and the staged outputs
    ``discard`` (:class:`~smlmscale.io.outputs.Staged`) are not kept for a resume.
    """
    import dask.dataframe as dd

    from smlmscale.io.tables import write_table

    rows = sum(part_rows(f) for f in files)
    if rows == 0:
        for staged in discard:
            staged.keep_on_error = False
        raise empty
    write_table(dd.read_parquet(list(files), split_row_groups=False), output, meta=meta,
                overwrite=overwrite, format=format)
    return rows


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


__all__ = ["RUN_FILE", "part_rows", "run_tasks", "staged_parts", "table_from_parts"]
