"""TraX entry point: lets the official VOT toolkit run our trackers as external trackers.

The toolkit starts this program, sends the first frame and the initial region,
then one frame at a time, and reads back a rectangle per frame (TraX protocol,
PyPI ``vot-trax``). Frames arrive as file paths; rectangles and polygons are
accepted (a polygon is turned into its min/max box, like the ground truth).

``python tools/vot_trax.py --tracker goturn --weights models/goturn.caffemodel``;
see ``docs/vot_toolkit.md`` for the ``trackers.ini`` stanza.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.base import Tracker
from goturn_caffe.track.builder import MODEL_FORMATS, TRACKER_NAMES, build_tracker


def region_to_box(region) -> Box:
    """A TraX rectangle or polygon -> Box (min/max box of a polygon)."""
    import trax

    if region.type == trax.Region.RECTANGLE:
        return Box.from_xywh(*region.bounds())
    if region.type == trax.Region.POLYGON:
        return Box.from_polygon([value for point in region for value in point])
    raise ValueError(f"cannot initialise from a TraX {region.type} region")


def serve(tracker: Tracker, name: str = "goturn_caffe") -> None:
    """Answer TraX requests with ``tracker`` until the client quits."""
    import trax

    from goturn_caffe.datasets.image_io import read_image

    with trax.Server([trax.Region.RECTANGLE, trax.Region.POLYGON], [trax.Image.PATH],
                     tracker_name=name) as server:
        while True:
            request = server.wait()
            if request.type in (trax.TraxStatus.QUIT, trax.TraxStatus.ERROR):
                break
            path = request.image[trax.ImageChannel.COLOR].path()
            image = read_image(path) if tracker.uses_images else None
            if request.type == trax.TraxStatus.INITIALIZE:
                box = region_to_box(request.objects[0][0])
                tracker.init(image, box)
            else:
                box = tracker.update(image)
            server.status([(trax.Rectangle.create(*box.to_xywh()), {})])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracker", choices=TRACKER_NAMES, default="goturn")
    parser.add_argument("--weights", help="goturn: trained .caffemodel (default models/goturn.caffemodel)")
    parser.add_argument("--deploy", help="goturn: deploy prototxt (default: the model format's, "
                                         "prototxt/goturn_deploy.prototxt or prototxt/opencv/goturn.prototxt)")
    parser.add_argument("--model-format", choices=MODEL_FORMATS, default="goturn",
                        help="goturn: the authors' layout; opencv: OpenCV's GOTURN model files")
    parser.add_argument("--gpu", type=int, help="goturn: GPU id (default: CPU)")
    return parser.parse_args(argv)


def tracker_from_args(args) -> Tracker:
    """The tracker the parsed command line asks for (the goturn options are
    ignored by the other trackers)."""
    return build_tracker(args.tracker, deploy=args.deploy, weights=args.weights, gpu=args.gpu,
                         model_format=args.model_format)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    serve(tracker_from_args(args), name=f"goturn_caffe-{args.tracker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
