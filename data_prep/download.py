#!/usr/bin/env python
"""Where to get the GOTURN datasets, and a safe way to unpack them.

The datasets need a browser (registration, click-through pages), so this
script does not download: ``show`` prints what to fetch from where and how to
lay it out; ``extract`` verifies an archive you downloaded (when you give the
checksum published with it) and unpacks it without letting any member escape
the destination folder.

  python data_prep/download.py show                  # all datasets
  python data_prep/download.py show alov
  python data_prep/download.py extract alov300++_frames.zip ~/data/alov
  python data_prep/download.py extract ILSVRC2014_DET_train.tar ~/data/det --nested-tars
  python data_prep/download.py extract vot2014.zip ~/data/vot2014 --checksum md5:<hex>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from goturn_caffe.cli import command
from goturn_caffe.datasets.archives import extract_nested_tars, safe_extract, verify_checksum

INSTRUCTIONS = {
    "alov": """ALOV300++ (training videos; about 21 GB)
  Page:  http://alov300pp.joomlafree.it/  ("Download Category" = the frames, and
         "Download Ground Truth" = the .ann files)
  Checksum: none published; compare the sizes shown on the page.
  Layout wanted (pass the folder holding both to --alov):
    <alov>/imagedata++/<category>/<video>/*.jpg
    <alov>/alov300++_rectangleAnnotation_full/<category>/<video>.ann
  Unpack: download.py extract <frames archive> <alov>; download.py extract <ground truth archive> <alov>
  The 7 videos that overlap VOT2014 are excluded when loading (--keep-vot-overlap to keep them).""",
    "det": """ImageNet DET (training still images)
  Page:  https://www.image-net.org/download-images (registration required).
  Either ILSVRC2014: the DET training images (ILSVRC2014_DET_train.tar, about 47 GB; it holds
         one tar per synset: unpack with --nested-tars) and the DET training bounding boxes
         (ILSVRC2014_DET_bbox_train, about 15 MB). Layout wanted under <det>:
           ILSVRC2014_DET_train/<set>/<id>.JPEG and ILSVRC2014_DET_bbox_train/<set>/<id>.xml
  Or     ILSVRC2015 DET (ILSVRC2015_DET.tar.gz). Layout wanted under <det>:
           ILSVRC/Data/DET/train/<set>/<id>.JPEG and ILSVRC/Annotations/DET/train/<set>/<id>.xml
  Checksum: use the MD5 listed on the download page, if any: --checksum md5:<hex>.""",
    "vot2014": """VOT2014 (evaluation; 25 sequences)
  Page:  http://www.votchallenge.net/vot2014/dataset.html
  Archive: http://box.vicos.si/vot/vot2014.zip (linked from the VOT2014 results page), or let the
         VOT toolkit fetch it (stack vot2014; its description file
         http://data.votchallenge.net/vot2014/dataset/description.json lists the sequences).
  Checksum: none published with the zip; pass one with --checksum if you have it.
  Layout wanted: <vot>/list.txt and <vot>/<sequence>/{groundtruth.txt, *.jpg, *.label}.""",
}


def show(names) -> None:
    print("\n\n".join(INSTRUCTIONS[name] for name in names))
    print("\nThen check the data with data_prep/validate_dataset.py and build the training cache "
          "with data_prep/build_lmdb.py (make data).")


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    show_parser = commands.add_parser("show", help="print where to get a dataset and its layout")
    show_parser.add_argument("datasets", nargs="*", metavar="DATASET",
                             help=f"any of {', '.join(INSTRUCTIONS)} (default: all)")
    extract_parser = commands.add_parser("extract", help="verify and safely unpack an archive")
    extract_parser.add_argument("archive", help="zip or tar(.gz/.bz2/.xz) file you downloaded")
    extract_parser.add_argument("dest", help="folder that receives the archive's top-level entries")
    extract_parser.add_argument("--checksum", metavar="ALGO:HEX",
                                help="published checksum to verify first, e.g. md5:9e107d9d...")
    extract_parser.add_argument("--nested-tars", action="store_true",
                                help="then unpack each <name>.tar found in the extracted folders "
                                     "into <name>/ (ILSVRC2014 DET training images)")
    extract_parser.add_argument("--remove-nested", action="store_true",
                                help="delete each nested tar once unpacked (saves ~47 GB for DET)")
    args = parser.parse_args(argv)
    if args.command == "show":
        unknown = [name for name in args.datasets if name not in INSTRUCTIONS]
        if unknown:
            parser.error(f"unknown dataset {', '.join(unknown)}; choose from {', '.join(INSTRUCTIONS)}")
        show(args.datasets or list(INSTRUCTIONS))
        return 0
    if args.checksum:
        verify_checksum(args.archive, args.checksum)
        print(f"{args.archive}: checksum ok")
    names = safe_extract(args.archive, args.dest)
    print(f"extracted {', '.join(names)} into {args.dest}")
    if args.nested_tars:
        for name in names:
            if (Path(args.dest) / name).is_dir():
                written = extract_nested_tars(Path(args.dest) / name, args.remove_nested)
                print(f"{name}: unpacked {len(written)} nested tar files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
