"""Which training videos also appear in an evaluation benchmark, from the lists shipped in ``lists/``.

A model reported on a benchmark must not have trained on that benchmark's
videos. :func:`overlapping_videos` answers, for one benchmark (``"otb"`` or
``"vot"``) and one training source (``"alov"``, ``"got10k"``, ...), the names of
the source's videos to leave out. ``lists/README.md`` names where each list
comes from and what is not known (ALOV300++ against OTB: no published list).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from goturn_caffe.datasets.alov import VOT2014_OVERLAP
from goturn_caffe.datasets.image_io import DatasetError

LISTS_DIR = Path(__file__).resolve().parent / "lists"
GOT10K_VOT_OVERLAP = LISTS_DIR / "got10k_vot_overlap.txt"
LASOT_TEST_SEQUENCES = LISTS_DIR / "lasot_test_sequences.txt"
BENCHMARKS = ("otb", "vot")
ALL = "all"  # every video of the source is the benchmark's own


def read_name_list(path: str | Path) -> tuple:
    """The names of a list file: one per line, ``#`` comments and blank lines ignored."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise DatasetError(path, f"unreadable list: {exc.strerror or exc}") from None
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(name for name in names if name)


@lru_cache(maxsize=None)
def shipped_list(path: Path) -> frozenset:
    return frozenset(read_name_list(path))


def lasot_test_sequences() -> tuple:
    """LaSOT's 280 test sequences (protocol II), in the official order."""
    return read_name_list(LASOT_TEST_SEQUENCES)


# benchmark -> source -> the names to leave out, or ALL. A source with no
# published overlap has an empty set; a source missing from the row is not
# known (refused), so that "none" and "unknown" stay distinct.  Built once: it is
# asked for every video of a training set.
@lru_cache(maxsize=1)
def _overlap_table() -> dict:
    return {
        "vot": {"alov": VOT2014_OVERLAP, "got10k": shipped_list(GOT10K_VOT_OVERLAP),
                "lasot": frozenset(), "trackingnet": frozenset()},
        "otb": {"otb": ALL, "got10k": frozenset(), "lasot": frozenset(),
                "trackingnet": frozenset()},
    }


def parse_benchmarks(text) -> tuple:
    """``"otb,vot"`` (or a list of names) -> ("otb", "vot"); ValueError naming an unknown one."""
    names = text.split(",") if isinstance(text, str) else list(text or ())
    names = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark {unknown[0]!r} to exclude; known: {', '.join(BENCHMARKS)}")
    return names


def overlapping_videos(benchmark: str, source: str, user_list_given: bool = False):
    """The names of ``source``'s videos that are also in ``benchmark``: a frozenset,
    or :data:`ALL`. Where no list is known, :class:`DatasetError` says so, unless
    the user gave a list of their own (``user_list_given``): then nothing more is
    removed here."""
    known = _overlap_table()[benchmark]
    if source in known:
        return known[source]
    if user_list_given:
        return frozenset()
    raise DatasetError(f"--exclude {benchmark}", f"no list of the {source} training videos that "
                       f"overlap {benchmark.upper()} is stored in this repository (see "
                       "src/goturn_caffe/datasets/lists/README.md); give one with "
                       f"--exclude-videos FILE, or leave {source} out")
