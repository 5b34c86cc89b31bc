"""The dataset options of the command-line tools (data_prep/, the benchmarks).

:func:`add_dataset_arguments` adds the dataset roots to an argparse parser;
:func:`training_set_from_args` opens the :class:`TrainingSet` they name.
"""

from __future__ import annotations

from typing import Optional

from goturn_caffe.datasets.overlap import BENCHMARKS, parse_benchmarks
from goturn_caffe.datasets.trackingnet import parse_chunks
from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.paths import SAMPLE_DIR, shared_data_dir


def default_root(name: str) -> Optional[str]:
    """The dataset folder ``name`` of the sample bundled in data/sample, else of the shared data."""
    candidates = (SAMPLE_DIR / name, shared_data_dir() / name)
    return next((str(folder) for folder in candidates if folder.is_dir()), None)


def _argument_type(parse):
    """An argparse type from a parser raising ValueError (argparse prints its message)."""
    import argparse

    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


def add_video_source_arguments(group) -> None:
    """The options of today's training videos (GOT-10k, LaSOT, TrackingNet) and of
    leaving out what overlaps a benchmark; shared by the data tools and train.py."""
    group.add_argument("--got10k", help="GOT-10k root (or its train/ folder): its training split")
    group.add_argument("--lasot", help="LaSOT root: its 1,120 training sequences (the 280 test "
                                       "sequences are never used)")
    group.add_argument("--trackingnet", help="TrackingNet root (or one TRAIN_k folder): its "
                                             "training chunks")
    group.add_argument("--trackingnet-chunks", type=_argument_type(parse_chunks), metavar="K,...",
                       help="TrackingNet training chunks to use, e.g. 0,1,2 (default: every "
                            "TRAIN_k folder present)")
    group.add_argument("--exclude", type=_argument_type(parse_benchmarks), default=(),
                       metavar="BENCHMARK,...",
                       help=f"leave out the training videos that overlap these benchmarks "
                            f"({', '.join(BENCHMARKS)}), from the lists shipped in "
                            "src/goturn_caffe/datasets/lists/ (README there: sources, and what "
                            "is not known)")
    group.add_argument("--exclude-videos", metavar="FILE",
                       help="also leave out the videos named in FILE (one name per line, any source)")


def video_selection(args) -> dict:
    """The TrainingSet.from_roots keywords of :func:`add_video_source_arguments`'s options."""
    return dict(got10k=args.got10k, lasot=args.lasot, trackingnet=args.trackingnet,
                trackingnet_chunks=args.trackingnet_chunks, exclude=args.exclude,
                exclude_videos=args.exclude_videos)


def add_dataset_arguments(parser) -> None:
    """The dataset-root options; defaults: the sample bundled in data/sample, else the shared data."""
    group = parser.add_argument_group("datasets (give at least one)")
    group.add_argument("--alov", default=default_root("alov"),
                       help="ALOV300++ root holding imagedata++/ and alov300++_rectangleAnnotation_full/ "
                            "(default: %(default)s)")
    group.add_argument("--det", default=default_root("det"),
                       help="ImageNet DET root, ILSVRC2014 or ILSVRC2015 layout (default: %(default)s)")
    group.add_argument("--otb", default=None,
                       help="OTB sequence folder, or folder of them, used as extra training videos "
                            "(default: none; OTB is usually kept for evaluation)")
    group.add_argument("--no-alov", action="store_true", help="ignore the default ALOV root")
    group.add_argument("--no-det", action="store_true", help="ignore the default DET root")
    group.add_argument("--alov-split", choices=("all", "train", "val"), default="all",
                       help="the authors' ALOV split: all 307 videos (final model, default), "
                            "or their 251 train / 56 validation videos")
    group.add_argument("--keep-vot-overlap", action="store_true",
                       help="keep the 7 ALOV videos that are also in VOT2014 (the authors drop them)")
    add_video_source_arguments(group)


def training_set_from_args(args) -> TrainingSet:
    """The training set of the options :func:`add_dataset_arguments` added."""
    return TrainingSet.from_roots(alov=None if args.no_alov else args.alov,
                                  det=None if args.no_det else args.det, otb=args.otb,
                                  alov_split=args.alov_split,
                                  exclude_vot_overlap=not args.keep_vot_overlap,
                                  **video_selection(args))
