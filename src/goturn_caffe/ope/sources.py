"""The datasets one-pass evaluation runs on: what each is called, how it is read,
which scorer of record it follows, and how a folder's kind is recognised.

=================  ===============  ==========  =========================================
kind (--dataset-   results folder   scorer      read by
kind)
=================  ===============  ==========  =========================================
``otb100``         ``OTB100``       otb         :func:`~goturn_caffe.datasets.otb.load_otb_benchmark`
``otb2013``        ``OTB2013``      otb         the same, OTB-2013's 51 targets
``otb``            ``OTB``          otb         any OTB-layout folder that is not the benchmark
``uav123``         ``UAV123``       otb         :mod:`goturn_caffe.datasets.uav123`
``uav20l``         ``UAV20L``       otb         the same
``got10k-val``     ``GOT-10k_val``  got10k      :mod:`goturn_caffe.datasets.got10k`
``got10k-test``    ``GOT-10k_test`` server      the same (a submission zip)
``lasot``          ``LaSOT``        lasot       :mod:`goturn_caffe.datasets.lasot` (test split)
``trackingnet``    ``TrackingNet``  server      :mod:`goturn_caffe.datasets.trackingnet` (test)
``nfs30``          ``NfS30``        otb         :mod:`goturn_caffe.datasets.nfs`
``nfs240``         ``NfS240``       otb         the same, 240 frames/s
``tcolor128``      ``TColor128``    otb         :mod:`goturn_caffe.datasets.tcolor128`
``vot``            ``VOT``          otb         :mod:`goturn_caffe.datasets.vot` (the axis-aligned
                                                box around each region; one pass, no resets)
=================  ===============  ==========  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError


@dataclass(frozen=True)
class DatasetKind:
    key: str                    # the --dataset-kind name
    name: str                   # the results folder: results/<name>/<tracker>/
    scorer: Optional[str]       # a key of metrics.SCORERS; None: scored by a server
    layout: str = "otb"         # results layout: "otb" (<seq>.txt) or "got10k" (<seq>/<seq>_001.txt)
    submission: Optional[str] = None    # the server zip written for it: "got10k", "trackingnet"
    anchored: bool = False      # the published GOTURN row applies (the full benchmark)


KINDS = {kind.key: kind for kind in (
    DatasetKind("otb100", "OTB100", "otb", anchored=True),
    DatasetKind("otb2013", "OTB2013", "otb", anchored=True),
    DatasetKind("otb", "OTB", "otb"),
    DatasetKind("uav123", "UAV123", "otb"),
    DatasetKind("uav20l", "UAV20L", "otb"),
    DatasetKind("got10k-val", "GOT-10k_val", "got10k", layout="got10k"),
    DatasetKind("got10k-test", "GOT-10k_test", None, layout="got10k", submission="got10k"),
    DatasetKind("lasot", "LaSOT", "lasot"),
    DatasetKind("trackingnet", "TrackingNet", None, submission="trackingnet"),
    DatasetKind("nfs30", "NfS30", "otb"),
    DatasetKind("nfs240", "NfS240", "otb"),
    DatasetKind("tcolor128", "TColor128", "otb"),
    DatasetKind("vot", "VOT", "otb"),
)}

LAYOUT_HINT = ("an OTB folder (<sequence>/img/ + groundtruth_rect.txt), UAV123 (anno/UAV123/, "
               "data_seq/UAV123/), GOT-10k (val/ or test/ with list.txt), LaSOT (<class>/<class>-N/"
               "groundtruth.txt), TrackingNet (TEST/anno/, TEST/frames/), NfS (<seq>/30/<seq>.txt) "
               "TColor128 (<seq>/<seq>_gt.txt, <seq>_frames.txt) or VOT (list.txt, "
               "<seq>/groundtruth.txt)")


def _children(root: Path) -> list:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _got10k_split(root: Path) -> Optional[str]:
    """"val" / "test" for a GOT-10k split folder or a root with exactly one of them."""
    if (root / "list.txt").is_file():
        names = [p.name for p in _children(root)]
        if any(n.startswith("GOT-10k_Test_") for n in names):
            return "test"
        if any(n.startswith("GOT-10k_Val_") for n in names):
            return "val"
    splits = [s for s in ("val", "test") if (root / s / "list.txt").is_file()]
    if len(splits) > 1:
        raise DatasetError(root, "holds GOT-10k val/ and test/: choose one with --dataset-kind "
                                 "got10k-val or got10k-test (or give the split folder)")
    return splits[0] if splits else None


def detect_kind(root: str | Path) -> DatasetKind:
    """The kind of dataset folder ``root`` holds (DatasetError, one line, when none)."""
    from goturn_caffe.datasets.nfs import is_nfs_folder
    from goturn_caffe.datasets.otb import IMAGE_FOLDER
    from goturn_caffe.datasets.tcolor128 import is_tcolor128_folder
    from goturn_caffe.datasets.uav123 import is_uav_folder

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "missing folder: no such dataset folder")
    if is_uav_folder(root, "UAV123"):
        return KINDS["uav123"]
    if is_uav_folder(root, "UAV20L"):
        return KINDS["uav20l"]
    split = _got10k_split(root)
    if split:
        return KINDS[f"got10k-{split}"]
    if any(root.glob("*/*-*/groundtruth.txt")) or any(root.glob("*-*/full_occlusion.txt")):
        return KINDS["lasot"]
    if any((root / sub / "anno").is_dir() for sub in ("TEST", "test", ".")) and \
            any((root / sub / "frames").is_dir() for sub in ("TEST", "test", ".")):
        return KINDS["trackingnet"]
    if is_nfs_folder(root, 30):
        return KINDS["nfs30"]
    if is_nfs_folder(root, 240):
        return KINDS["nfs240"]
    if is_tcolor128_folder(root):
        return KINDS["tcolor128"]
    if (root / IMAGE_FOLDER).is_dir() or any((p / IMAGE_FOLDER).is_dir() for p in _children(root)):
        return KINDS["otb"]     # load_dataset decides between OTB100, OTB2013 and a plain set
    if (root / "list.txt").is_file() and any(root.glob("*/groundtruth.txt")):
        return KINDS["vot"]
    raise DatasetError(root, f"not a dataset folder this tool reads: expected {LAYOUT_HINT}")


def load_dataset(root: str | Path, kind: Optional[str] = None,
                 report: Optional[SkipReport] = None) -> tuple:
    """``(DatasetKind, videos)`` of the dataset in ``root``; ``kind`` a key of
    :data:`KINDS` (default: detected).  An OTB-layout folder holding every OTB-100
    target is read as OTB100 (its attributes, its official frame ranges); one
    holding every OTB-2013 target as OTB2013; any other as a plain set (``OTB``).
    DatasetError names the folder and what is missing."""
    report = report if report is not None else SkipReport()
    root = Path(root)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}: choose from {', '.join(KINDS)}")
    chosen = KINDS[kind] if kind else detect_kind(root)
    if chosen.key in ("otb", "otb100", "otb2013"):
        from goturn_caffe.datasets.otb import (
            load_otb,
            load_otb_benchmark,
            otb_benchmark_of,
            otb_version_of,
        )

        if chosen.key != "otb":
            return chosen, load_otb_benchmark(root, chosen.key[3:], report)
        videos = load_otb(root, report)
        version = otb_version_of(videos) if kind is None else None
        if version:
            return KINDS[f"otb{version}"], otb_benchmark_of(root, videos, version)
        return chosen, videos
    if chosen.key in ("uav123", "uav20l"):
        from goturn_caffe.datasets.uav123 import load_uav

        return chosen, load_uav(root, chosen.name, report)
    if chosen.key.startswith("nfs"):
        from goturn_caffe.datasets.nfs import load_nfs

        return chosen, load_nfs(root, int(chosen.key[3:]), report)
    if chosen.key == "tcolor128":
        from goturn_caffe.datasets.tcolor128 import load_tcolor128

        return chosen, load_tcolor128(root, report)
    if chosen.key.startswith("got10k"):
        from goturn_caffe.datasets.got10k import load_got10k

        return chosen, load_got10k(root, chosen.key.split("-")[1], report)
    if chosen.key == "vot":
        from goturn_caffe.datasets.vot import load_vot

        return chosen, load_vot(root, report=report, strict=True)
    if chosen.key == "lasot":
        from goturn_caffe.datasets.lasot import load_lasot

        return chosen, load_lasot(root, "test", report)
    from goturn_caffe.datasets.trackingnet import load_trackingnet

    return chosen, load_trackingnet(root, "test", report=report)
