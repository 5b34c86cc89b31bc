"""The one way a Caffe SGD solver is made: write the net, write the authors'
solver over it (``netspec.build_solver``, with overrides), open it.

Training (``train/training.py``), online fine-tuning (``track/finetune.py``)
and the solver benchmark (``benchmarks/train.py``) all go through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.caffe_env import import_caffe
from goturn_caffe.fileio import write_text_atomic
from goturn_caffe.model.netspec import build_solver


def write_solver(net_param, net_path, solver_path, snapshot_prefix,
                 gpu: Optional[bool] = None, **overrides) -> Path:
    """Write ``net_param`` to ``net_path`` and the authors' solver over it to
    ``solver_path``; returns ``solver_path``.

    ``overrides``: solver fields to change (max_iter, base_lr, ...).  Caffe's
    own snapshot at the end of ``Solve`` is off (the callers snapshot
    themselves); ``gpu`` sets ``solver_mode`` (None: left out, as in the
    authors' file).
    """
    write_text_atomic(net_path, str(net_param))
    solver = build_solver(str(net_path), str(snapshot_prefix), **overrides)
    solver.snapshot_after_train = False
    if gpu is not None:
        solver.solver_mode = solver.GPU if gpu else solver.CPU
    write_text_atomic(solver_path, str(solver))
    return Path(solver_path)


def open_solver(solver_path):
    """A ``caffe.SGDSolver`` over a solver prototxt written by :func:`write_solver`."""
    return import_caffe().SGDSolver(str(solver_path))


def make_solver(net_param, folder, name: str, gpu: Optional[bool] = None, **overrides):
    """Write ``<folder>/<name>_net.prototxt`` and ``<name>_solver.prototxt``
    (snapshot prefix ``<folder>/<name>``) and open the solver."""
    folder = Path(folder)
    return open_solver(write_solver(net_param, folder / f"{name}_net.prototxt",
                                    folder / f"{name}_solver.prototxt", folder / name,
                                    gpu=gpu, **overrides))


def stock_caffe_command(solver: str = "prototxt/goturn_solver.prototxt",
                        options: str = "[-weights models/goturn_init.caffemodel] [-gpu 0]") -> str:
    """The shell command that trains with Caffe's own ``caffe train`` binary, from the
    repository root: its embedded Python needs the venv's packages, pycaffe and
    ``src/`` on PYTHONPATH, and the libpython the venv's interpreter was built with."""
    return ("LD_LIBRARY_PATH=$(.venv/bin/python -c 'import sysconfig; "
            "print(sysconfig.get_config_var(\"LIBDIR\"))') \\\n"
            "PYTHONPATH=$(.venv/bin/python -c 'import sys; "
            "print(\":\".join(p for p in sys.path if p))') \\\n"
            f"  .venv/bin/caffe train -solver {solver} {options}".rstrip())
