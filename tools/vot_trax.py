#!/usr/bin/env python
"""TraX server for the official VOT toolkit: runs one of our trackers as an
external tracker (static, kcf, csrt or goturn).

The toolkit starts this script and talks TraX over stdin/stdout; it is not
meant to be run by hand. trackers.ini stanza and workflow: docs/vot_toolkit.md.

  python tools/vot_trax.py --tracker goturn --weights models/goturn.caffemodel --gpu 0
"""

import sys

from goturn_caffe.cli import command
from goturn_caffe.vot import trax_server

main = command(trax_server.main, name="vot_trax.py")

if __name__ == "__main__":
    sys.exit(main())
