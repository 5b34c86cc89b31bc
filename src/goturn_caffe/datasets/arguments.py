"""The dataset options of the command-line tools (data_prep/, the benchmarks).

:func:`add_dataset_arguments` adds the dataset roots to an argparse parser;
:func:`training_set_from_args` opens the :class:`TrainingSet` they name.
"""

from __future__ import annotations

from typing import Optional

from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.paths import SAMPLE_DIR, shared_data_dir


def default_root(name: str) -> Optional[str]:
    """The dataset folder ``name`` of the sample bundled in data/sample, else of the shared data."""
    candidates = (SAMPLE_DIR / name, shared_data_dir() / name)
    return next((str(folder) for folder in candidates if folder.is_dir()), None)


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


def training_set_from_args(args) -> TrainingSet:
    """The training set of the options :func:`add_dataset_arguments` added."""
    return TrainingSet.from_roots(alov=None if args.no_alov else args.alov,
                                  det=None if args.no_det else args.det, otb=args.otb,
                                  alov_split=args.alov_split,
                                  exclude_vot_overlap=not args.keep_vot_overlap)
