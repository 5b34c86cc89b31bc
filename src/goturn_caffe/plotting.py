"""Figures written to files: matplotlib's Agg backend, optional.

Plots are a convenience beside the CSV/JSON they are drawn from, so an
environment without matplotlib (such as the small GPU runtime archive packed
with ``--no-plots``) still trains and evaluates; it only skips the PNGs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from goturn_caffe.fileio import atomic_path

log = logging.getLogger(__name__)


def agg_pyplot():
    """``matplotlib.pyplot`` on the Agg backend, or None (with one warning) when
    matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        if not getattr(agg_pyplot, "warned", False):
            log.warning("matplotlib is not installed: plots are skipped (their data is still written)")
            agg_pyplot.warned = True
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path, **savefig_kwargs) -> Path:
    """Write ``figure`` to ``path`` through a temp file and a rename, then close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, **savefig_kwargs)
    finally:
        plt.close(figure)
    return path
