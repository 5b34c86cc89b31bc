"""Figures written to files: matplotlib's Agg backend, optional.

Plots are a convenience beside the CSV/JSON they are drawn from, so a runtime
without matplotlib (the packed GPU runtime leaves it out to fit a device's
64 MiB carry limit) still trains and evaluates; it only skips the PNGs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    figure.savefig(tmp, **savefig_kwargs)
    plt.close(figure)
    os.replace(tmp, path)
    return path
