"""The worker plugin that silences TensorFlow in Dask workers (imports distributed)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from smlmscale.runtime.quiet import quiet_tensorflow


class QuietTensorFlow(WorkerPlugin):
    """:func:`~smlmscale.runtime.quiet.quiet_tensorflow` in every worker process."""

    name = "smlmscale-quiet-tensorflow"

    def setup(self, worker) -> None:  # noqa: D102 - WorkerPlugin API
        quiet_tensorflow()
