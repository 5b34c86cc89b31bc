"""``python -m goturn_caffe.doctor``: what Caffe this environment uses, and whether it works."""

from __future__ import annotations

import sys
import time


def main() -> int:
    from goturn_caffe.caffe_env import CaffeUnavailable, build_info, import_caffe

    try:
        caffe = import_caffe()
    except CaffeUnavailable as exc:
        print(exc)
        return 1
    info = build_info(caffe) or {}
    print(f"pycaffe:       {caffe.__file__}")
    print(f"source:        {info.get('source', '?')} {info.get('commit', '?')}")
    print(f"checksum:      {info.get('checksum', '?')}")
    flags = info.get("flags", {})
    cuda = flags.get("cuda")
    mode = ("CUDA " + ",".join("sm_" + a for a in cuda["arch"]) + (" + cuDNN" if cuda["cudnn"] else "")
            if cuda else "CPU only")
    version = str(flags.get("python", "?"))
    print(f"build:         {mode}, Python {version[0]}.{version[1:]}, python layer "
          f"{'on' if flags.get('with_python_layer') else 'off'}, BLAS {flags.get('blas', '?')}")
    print(f"build dir:     {info.get('build_dir', '?')} (built {info.get('built_at', '?')})")
    print(f"patch set:     sha256 {info.get('patch_set_sha256', '?')[:16]}")
    for patch in info.get("patches", []):
        print(f"  - {patch['file']}: {patch['outcome']}: {patch['why']}")
    from goturn_caffe.model import net as goturn_net

    start = time.perf_counter()
    net = goturn_net.load_net(goturn_net.DEPLOY_PROTOTXT)
    net.forward()
    print(f"GOTURN deploy net: one forward in {1000 * (time.perf_counter() - start):.1f} ms "
          f"(random weights, includes net construction), fc8 shape {net.blobs['fc8'].data.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
