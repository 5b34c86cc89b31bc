"""TraX entry point: lets the official VOT toolkit run our trackers as external trackers.

The toolkit starts this program, sends the first frame and the initial region,
then one frame at a time, and reads back a rectangle per frame (TraX protocol,
PyPI ``vot-trax``). Frames arrive as file paths; rectangles and polygons are
accepted (a polygon is turned into its min/max box, like the ground truth).

``python tools/vot_trax.py --tracker goturn --weights models/goturn.caffemodel``;
see ``docs/vot_toolkit.md`` for the ``trackers.ini`` stanza.

Bad input ends the server with one line (:class:`TraxError`, a ValueError) and
a ``quit`` message giving the client the reason.  libtrax reads the client's
messages itself, and two of its states never end: a bare ``@@TRAX:initialize``
line waits for a region forever, and the end of the input in the middle of a
message (after ``initialize`` with its region, the image still to come) is
never noticed.  So the client's lines reach libtrax through :class:`InputGuard`:
a thread that refuses an ``initialize`` message without a usable region (one
line naming the line number) and, once the input has ended, ends a server that
libtrax keeps waiting for more than ``STUCK_SECONDS``.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import threading
import time
from typing import Optional

from goturn_caffe.geometry.boxes import Box, parse_region
from goturn_caffe.track.base import Tracker, check_init_box
from goturn_caffe.track.builder import MODEL_FORMATS, TRACKER_NAMES, build_tracker

STUCK_SECONDS = 3.0         # libtrax still waiting this long after the input ended: stuck
PREFIX = b"@@TRAX:"
_ARGUMENT = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')
_URI = re.compile(r"^[a-z]+:", re.IGNORECASE)   # file://..., data:..., image:... arguments


class TraxError(ValueError):
    """A TraX session that cannot go on: the client's input or the tracker's answer."""


def _shown(line: bytes, limit: int = 80) -> str:
    text = line.decode("utf-8", "replace").strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def initialize_problem(line: bytes) -> Optional[str]:
    """Why the client's ``line`` is an ``initialize`` message libtrax would hang on
    (no argument that is a region: x,y,w,h or a polygon); None for any other line."""
    words = line.strip().split(None, 1)
    if not words or words[0] != PREFIX + b"initialize":
        return None
    arguments = [(quoted or bare).decode("utf-8", "replace")
                 for quoted, bare in _ARGUMENT.findall(words[1] if len(words) > 1 else b"")]
    regions = [a for a in arguments if "=" not in a and not _URI.match(a)]
    if not regions:
        return "an initialize message needs the initial region (x,y,w,h or a polygon)"
    problems = []
    for text in regions:
        try:
            parse_region(text)
            return None
        except ValueError as exc:
            problems.append(f"region {text!r}: {exc}")
    return "; ".join(problems)


class InputGuard:
    """Stands between the client and libtrax: the real standard input is read by a
    thread that passes each line on through a pipe put in its place (fd 0), and
    stops passing -- closing the pipe, which libtrax reads as the end of the
    session -- at a refused line or at the end of the input.  ``describe()`` then
    says why in one line.  ``waiting`` is set by the server around each libtrax
    read; a server still waiting ``STUCK_SECONDS`` after the pipe closed is ended
    (``program: reason`` on stderr, a TraX ``quit`` for the client, exit status 2)."""

    def __init__(self, program: str = "vot_trax.py", stuck_seconds: float = STUCK_SECONDS):
        self.program, self.stuck_seconds = program, stuck_seconds
        self.lines, self.last = 0, b""
        self.problem: Optional[str] = None
        self.ended = False
        self.waiting = False
        self._closed = threading.Event()

    def start(self) -> "InputGuard":
        source = os.dup(0)
        reader, writer = os.pipe()
        os.dup2(reader, 0)
        os.close(reader)
        self._pipe = writer
        threading.Thread(target=self._pass_lines, args=(source,), name="trax-input",
                         daemon=True).start()
        threading.Thread(target=self._watch, name="trax-stuck", daemon=True).start()
        return self

    def _pass_lines(self, source: int) -> None:
        with io.open(source, "rb") as lines:
            for line in lines:
                self.lines, self.last = self.lines + 1, line
                problem = initialize_problem(line)
                if problem:
                    self.problem = f"line {self.lines} of the TraX input ({_shown(line)}): {problem}"
                    break
                try:
                    os.write(self._pipe, line)
                except OSError:         # libtrax has stopped reading: the session is over
                    break
            else:
                self.ended = True
        os.close(self._pipe)
        self._closed.set()

    def describe(self, message: str) -> str:
        """One line for libtrax's ``message`` (often just "Unknown"), with what the guard saw."""
        if self.problem:
            return self.problem
        if self.ended:
            return (f"the TraX input ended without a quit message (after {self.lines} line(s)"
                    + (f", the last {_shown(self.last)}" if self.lines else "") + f"): {message}")
        if self.lines:
            return f"{message} (TraX input line {self.lines}: {_shown(self.last)})"
        return message

    def _watch(self) -> None:
        self._closed.wait()
        since = None
        while True:
            if not self.waiting:
                since = None
            elif since is None:
                since = time.monotonic()
            elif time.monotonic() - since >= self.stuck_seconds:
                reason = self.describe("libtrax kept waiting for the rest of a message")
                reply = reason.replace("\\", "\\\\").replace('"', '\\"')
                try:
                    os.write(1, f'@@TRAX:quit "trax.reason={reply}"\n'.encode())
                except OSError:
                    pass
                sys.stderr.write(f"{self.program}: {reason}\n")
                sys.stderr.flush()
                os._exit(2)
            time.sleep(0.05)


def region_to_box(region) -> Box:
    """A TraX rectangle or polygon -> Box (min/max box of a polygon)."""
    import trax

    if region.type == trax.Region.RECTANGLE:
        return Box.from_xywh(*region.bounds())
    if region.type == trax.Region.POLYGON:
        # By index: vot-trax's PolygonIterator has no __iter__, which Python 3.13's
        # comprehensions need ("'PolygonIterator' object is not iterable").
        return Box.from_polygon([value for i in range(region.size()) for value in region.get(i)])
    raise ValueError(f"cannot initialise from a TraX {region.type} region")


def serve(tracker: Tracker, name: str = "goturn_caffe", program: str = "vot_trax.py") -> None:
    """Answer TraX requests with ``tracker`` until the client quits; TraxError (one
    line) for anything the client sent that cannot be answered."""
    import trax

    from goturn_caffe.datasets.image_io import read_image

    guard = InputGuard(program).start()

    def wait(server):
        guard.waiting = True
        try:
            return server.wait()
        finally:
            guard.waiting = False

    try:
        server = trax.Server([trax.Region.RECTANGLE, trax.Region.POLYGON], [trax.Image.PATH],
                             tracker_name=name)
    except trax.TraxException as exc:
        raise TraxError(guard.describe(str(exc))) from None
    try:
        while True:
            try:
                request = wait(server)
            except trax.TraxException as exc:
                raise TraxError(guard.describe(str(exc))) from None
            if request.type in (trax.TraxStatus.QUIT, trax.TraxStatus.ERROR):
                break
            channel = (request.image or {}).get(trax.ImageChannel.COLOR)
            if channel is None:
                raise TraxError(guard.describe("a request without a color image"))
            image = read_image(channel.path()) if tracker.uses_images else None
            if request.type == trax.TraxStatus.INITIALIZE:
                if not request.objects:
                    raise TraxError(guard.describe("an initialize request without a region"))
                box = region_to_box(request.objects[0][0])
                if image is not None:
                    check_init_box(box, image, "TraX initial region")
                elif not box.is_valid():
                    raise TraxError(f"TraX initial region {box.to_xywh()} has zero or negative size")
                tracker.init(image, box)
            else:
                box = tracker.update(image)
            try:
                server.status([(trax.Rectangle.create(*box.to_xywh()), {})])
            except trax.TraxException as exc:
                raise TraxError(guard.describe(str(exc))) from None
    except Exception as exc:
        _quit(server, str(exc))     # the client learns why, then the one-line error
        raise
    _quit(server)


def _quit(server, reason: Optional[str] = None) -> None:
    import trax

    try:
        server.quit(reason=reason)
    except (trax.TraxException, OSError):
        pass


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
