"""TensorFlow's logging off in Dask workers and with --quiet (issue 18 item 7)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from smlmscale.runtime import DaskSettings, dask_client
from smlmscale.runtime.quiet import (TF_LOG_VARIABLE, MutedTensorFlowImport, quiet_tensorflow,
                                     tensorflow_environ)

pytestmark = pytest.mark.timeout(120)


def _worker_state():
    return os.environ.get(TF_LOG_VARIABLE), logging.getLogger("tensorflow").level


def test_local_workers_are_quiet(monkeypatch):
    monkeypatch.delenv(TF_LOG_VARIABLE, raising=False)
    with dask_client(DaskSettings(workers=1, threads_per_worker=1)) as client:
        states = client.run(_worker_state)
    assert list(states.values()) == [("3", logging.ERROR)]


def test_a_level_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv(TF_LOG_VARIABLE, "1")
    assert tensorflow_environ() == {TF_LOG_VARIABLE: "1"}
    logger = logging.getLogger("tensorflow")
    before = logger.level
    try:
        quiet_tensorflow()
        assert os.environ[TF_LOG_VARIABLE] == "1" and logger.level == logging.ERROR
    finally:
        logger.setLevel(before)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MutedTensorFlowImport)]


def test_the_import_hook_mutes_only_tensorflow(tmp_path, monkeypatch, capfd):
    """A stand-in ``tensorflow`` package that writes to descriptor 2 at import."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        "import os\nos.write(2, b'I0000 port.cc:153] oneDNN custom operations are on\\n')\n")
    (tmp_path / "other.py").write_text("import os\nos.write(2, b'other line\\n')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("tensorflow", "other"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    hook = MutedTensorFlowImport()
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    import other  # noqa: F401
    import tensorflow  # noqa: F401
    err = capfd.readouterr().err
    assert "other line" in err and "oneDNN" not in err and hook not in sys.meta_path


_WORKER_IMPORTS_TF = """
from smlmscale.runtime import DaskSettings, dask_client

def use_tf():
    import tensorflow as tf
    tf.get_logger().warning("python-side warning from a worker")
    return float(tf.reduce_sum(tf.ones(3)))

if __name__ == "__main__":
    with dask_client(DaskSettings(workers=1, threads_per_worker=1)) as client:
        print(client.submit(use_tf).result())
"""


@pytest.mark.slow
def test_a_worker_importing_tensorflow_prints_nothing(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(_WORKER_IMPORTS_TF)
    env = {k: v for k, v in os.environ.items() if k != TF_LOG_VARIABLE}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=110, env=env, check=True)
    assert done.stdout.strip() == "3.0"
    assert "tensorflow" not in done.stderr.lower() and "onednn" not in done.stderr.lower() \
        and "absl" not in done.stderr.lower(), \
        done.stderr
