#!/usr/bin/env python3
"""Our compatibility patch set for Caffe, as scripted edits.

Each edit is a regular expression applied to one file of a Caffe source tree.
The same set applies to the supported trees (official BVLC at 9b89154, BVLC at
99bd997 from Debian's archive, and the PyPI sdist brocolli-caffe 9.0.2): an edit whose target text a tree does not
have is reported as "not needed" only when its ``applied`` pattern shows the
fix is already there; anything else is an error, so a drifted tree fails loudly
instead of building half-patched.

Run ``python caffe_build/patch_caffe.py --list`` to print the set, one line
per edit with why; ``python caffe_build/patch_caffe.py SRC`` patches a tree.
No Caffe code lives in this repository: only these edits.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Edit:
    path: str            # file, relative to the source root
    pattern: str         # regex of the text to change (re.M | re.S)
    replacement: str
    why: str
    applied: str = ""    # regex that is present when the fix is already in the tree
    optional: bool = False  # file may be absent from a tree (reported, not an error)


CUDNN_ALGO_WRAPPER = r'''
// goturn-caffe: cuDNN >= 8 removed cudnnGetConvolution*Algorithm; pick the
// fastest algorithm that fits the workspace limit from the _v7 heuristics.
#ifndef GOTURN_CUDNN_WORKSPACE_LIMIT
#define GOTURN_CUDNN_WORKSPACE_LIMIT (8*1024*1024)
#endif
#if CUDNN_VERSION_MIN(8, 0, 0)
namespace {
template <typename Perf, typename Algo, typename Query>
cudnnStatus_t goturn_pick_algo(Query query, size_t limit, Algo* algo) {
  const int kMax = 16;
  Perf perf[kMax];
  int returned = 0;
  cudnnStatus_t status = query(kMax, &returned, perf);
  if (status != CUDNN_STATUS_SUCCESS) return status;
  // perf[] is sorted fastest first: the first that works within the limit ...
  for (int k = 0; k < returned; ++k) {
    if (perf[k].status == CUDNN_STATUS_SUCCESS && perf[k].memory <= limit) {
      *algo = perf[k].algo;
      return CUDNN_STATUS_SUCCESS;
    }
  }
  // ... else the fastest that works at all (Caffe sizes the workspace to the choice)
  for (int k = 0; k < returned; ++k) {
    if (perf[k].status == CUDNN_STATUS_SUCCESS) {
      *algo = perf[k].algo;
      return CUDNN_STATUS_SUCCESS;
    }
  }
  return CUDNN_STATUS_NOT_SUPPORTED;
}
}  // namespace
#define cudnnGetConvolutionForwardAlgorithm(h, x, w, c, y, pref, limit, algo) \
  goturn_pick_algo<cudnnConvolutionFwdAlgoPerf_t>([&](int n, int* r, \
      cudnnConvolutionFwdAlgoPerf_t* p) { return \
      cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, c, y, n, r, p); }, limit, algo)
#define cudnnGetConvolutionBackwardFilterAlgorithm(h, x, dy, c, dw, pref, limit, algo) \
  goturn_pick_algo<cudnnConvolutionBwdFilterAlgoPerf_t>([&](int n, int* r, \
      cudnnConvolutionBwdFilterAlgoPerf_t* p) { return \
      cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x, dy, c, dw, n, r, p); }, limit, algo)
#define cudnnGetConvolutionBackwardDataAlgorithm(h, w, dy, c, dx, pref, limit, algo) \
  goturn_pick_algo<cudnnConvolutionBwdDataAlgoPerf_t>([&](int n, int* r, \
      cudnnConvolutionBwdDataAlgoPerf_t* p) { return \
      cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, dy, c, dx, n, r, p); }, limit, algo)
#endif
'''

EDITS = [
    Edit("src/caffe/util/io.cpp",
         r"SetTotalBytesLimit\(\s*kProtoReadBytesLimit\s*,\s*536870912\s*\)",
         "SetTotalBytesLimit(kProtoReadBytesLimit)",
         "protobuf >= 3.11 dropped the two-argument SetTotalBytesLimit; one argument, INT_MAX, "
         "so .caffemodel files up to 2 GB load",
         applied=r"SetTotalBytesLimit\((kProtoReadBytesLimit|536870912|2147483647)\)"),
    Edit("src/caffe/util/io.cpp",
         r"SetTotalBytesLimit\(536870912\)",
         "SetTotalBytesLimit(2147483647)",  # INT_MAX, without needing <climits>
         "the PyPI tree caps protobuf reads at 512 MB; a GOTURN model with its solver history "
         "is near that, so lift the cap to INT_MAX like upstream",
         applied=r"SetTotalBytesLimit\((kProtoReadBytesLimit|2147483647)\)"),
    Edit("python/caffe/io.py", r"\.tostring\(\)", ".tobytes()",
         "numpy 2 removed ndarray.tostring", applied=r"\.tobytes\(\)"),
    Edit("python/caffe/io.py",
         r"np\.fromstring\(datum\.data, dtype=np\.uint8\)",
         "np.frombuffer(datum.data, dtype=np.uint8).copy()",
         "numpy 2 removed np.fromstring for binary data; copy so the array stays writable",
         applied=r"np\.frombuffer\(datum\.data"),
    Edit("python/caffe/io.py", r"as_grey=", "as_gray=",
         "scikit-image 0.19 renamed as_grey to as_gray", applied=r"as_gray="),
    Edit("python/caffe/io.py", r"^import skimage\.io\n",
         "# goturn-caffe: scikit-image is imported where it is used (load_image)\n",
         "import pycaffe without scikit-image (a smaller runtime for GPU machines)",
         applied=r"goturn-caffe: scikit-image is imported"),
    Edit("python/caffe/io.py", r"(def load_image\([^)]*\):\n(\s+)\"\"\".*?\"\"\"\n)",
         r"\1\2import skimage.io\n",
         "load_image imports scikit-image itself now",
         applied=r"def load_image.*?\"\"\"\n\s+import skimage\.io"),
    Edit("python/caffe/io.py", r"^from scipy\.ndimage import zoom\n(from skimage\.transform import resize\n)?",
         "# goturn-caffe: scipy and skimage.transform are imported where used (resize_image)\n",
         "import pycaffe without SciPy (a smaller runtime for GPU machines)",
         applied=r"goturn-caffe: scipy and skimage\.transform are imported"),
    Edit("python/caffe/io.py", r"(def resize_image\([^)]*\):\n(\s+)\"\"\".*?\"\"\"\n)",
         r"\1\2from scipy.ndimage import zoom\n\2from skimage.transform import resize\n",
         "resize_image imports them itself now (the PyPI tree called resize without importing it)",
         applied=r"def resize_image.*?\"\"\"\n\s+from scipy\.ndimage import zoom"),
    Edit("src/caffe/common.cpp",
         r"(void Caffe::DeviceQuery\(\) \{\n(?=\s*cudaDeviceProp prop;))",
         r"static int goturn_device_attr(cudaDeviceAttr attr, int device) {\n"
         r"  int value = 0;\n  cudaDeviceGetAttribute(&value, attr, device);\n  return value;\n}\n\n\1",
         "CUDA 13 removed cudaDeviceProp::clockRate/deviceOverlap/kernelExecTimeoutEnabled; "
         "read them with cudaDeviceGetAttribute",
         applied=r"goturn_device_attr\(cudaDeviceAttr"),
    Edit("src/caffe/common.cpp", r"prop\.clockRate",
         "goturn_device_attr(cudaDevAttrClockRate, device)", "(same: clockRate)",
         applied=r"cudaDevAttrClockRate"),
    Edit("src/caffe/common.cpp", r"prop\.deviceOverlap",
         "goturn_device_attr(cudaDevAttrGpuOverlap, device)", "(same: deviceOverlap)",
         applied=r"cudaDevAttrGpuOverlap"),
    Edit("src/caffe/common.cpp", r"prop\.kernelExecTimeoutEnabled",
         "goturn_device_attr(cudaDevAttrKernelExecTimeout, device)",
         "(same: kernelExecTimeoutEnabled)", applied=r"cudaDevAttrKernelExecTimeout"),
    Edit("src/caffe/test/test_platform.cpp",
         r"CAFFE_TEST_CUDA_PROP\.(clockRate|deviceOverlap|kernelExecTimeoutEnabled)", "0",
         "the CUDA platform test prints the fields CUDA 13 removed; print 0 instead",
         applied=r"\A(?!.*CAFFE_TEST_CUDA_PROP\.deviceOverlap)"),
    *[Edit(path, r"#include [<\"]thrust/device_vector\.h[>\"]\n", "",
           "unused include; CUDA 13 moved Thrust under include/cccl, which only nvcc searches "
           "(the .cpp files are compiled by the host compiler)",
           applied=r"\A(?!.*thrust/device_vector)", optional=optional)
      for path, optional in [("src/caffe/util/math_functions.cu", False),
                             ("src/caffe/layers/cudnn_softmax_layer.cpp", False),
                             ("src/caffe/layers/cudnn_bn_layer.cpp", True)]],  # PyPI tree only
    *[Edit(f"src/caffe/layers/{name}_layer.cpp",
           r"^([ \t]*)#ifdef CPU_ONLY\n[ \t]*STUB_GPU\((\w+)\);\n[ \t]*#endif\n",
           r"\1#ifdef CPU_ONLY\n\1STUB_GPU(\2);\n"
           r"\1#else  // goturn-caffe: declared, but the PyPI tree has no GPU code: run the CPU code\n"
           r"\1template <typename Dtype>\n"
           r"\1void \2<Dtype>::Forward_gpu(const vector<Blob<Dtype>*>& bottom,\n"
           r"\1    const vector<Blob<Dtype>*>& top) { Forward_cpu(bottom, top); }\n"
           r"\1template <typename Dtype>\n"
           r"\1void \2<Dtype>::Backward_gpu(const vector<Blob<Dtype>*>& top,\n"
           r"\1    const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom) {\n"
           r"\1  Backward_cpu(top, propagate_down, bottom);\n\1}\n\1#endif\n",
           "the PyPI tree's extra layers declare Forward_gpu/Backward_gpu but define them only in "
           "CPU builds (STUB_GPU), so a CUDA libcaffe does not link; fall back to the CPU code",
           applied=r"goturn-caffe: declared, but the PyPI tree has no GPU code", optional=True)
      for name in ("hardsigmoid", "hardswish", "maxunpool", "pixelshuffle", "relu6", "upsample")],
    Edit("src/caffe/layers/proposal_layer.cu", r"(\nINSTANTIATE_LAYER_GPU_FUNCS\(ProposalLayer\);)",
         "\n// goturn-caffe: declared in the header but never defined; empty like Backward_cpu\n"
         "template <typename Dtype>\n"
         "void ProposalLayer<Dtype>::Backward_gpu(const vector<Blob<Dtype>*>& top,\n"
         "    const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom) {}\n\\1",
         "the PyPI tree's proposal layer instantiates a Backward_gpu it never defines, an error "
         "for CUDA 13's host compiler; define it empty, like its Backward_cpu",
         applied=r"ProposalLayer<Dtype>::Backward_gpu\(", optional=True),  # PyPI tree only
    *[Edit(f"src/caffe/layers/{name}.cpp",
           rf"(#include \"caffe/layers/{name}\.hpp\"\n)",
           r"\1" + CUDNN_ALGO_WRAPPER.replace("\\", "\\\\"),
           "cuDNN >= 8 removed cudnnGetConvolution{Forward,BackwardFilter,BackwardData}Algorithm; "
           "wrap the _v7 heuristics",
           applied=r"goturn_pick_algo", optional=optional)
      for name, optional in [("cudnn_conv_layer", False),
                             ("cudnn_deconv_layer", True)]],  # BVLC trees only
    Edit("src/caffe/layers/cudnn_conv_layer.cpp",
         r"(  ConvolutionLayer<Dtype>::Reshape\(bottom, top\);\n)",
         r"\1  // goturn-caffe: re-select algorithms only when the input shape changes; the\n"
         r"  // heuristics query on every forward cost ~10 ms per frame on an H100.\n"
         r"  if (bottom[0]->shape() == goturn_last_shape_) { return; }\n"
         r"  goturn_last_shape_ = bottom[0]->shape();\n",
         "performance: Caffe re-queried cuDNN algorithms on every Reshape (every forward)",
         applied=r"goturn_last_shape_ = bottom"),
    Edit("include/caffe/layers/cudnn_conv_layer.hpp",
         r"(  bool handles_setup_;\n)",
         r"\1  std::vector<int> goturn_last_shape_;  // goturn-caffe: shape the algorithms were chosen for\n",
         "member for the Reshape fix above", applied=r"goturn_last_shape_"),
    *[Edit(f"src/caffe/layers/{name}.cpp",
           r"size_t workspace_limit_bytes = 8\*1024\*1024;",
           "size_t workspace_limit_bytes = GOTURN_CUDNN_WORKSPACE_LIMIT;",
           "cuDNN workspace limit configurable at build time (CUDNN_WORKSPACE_MB)",
           applied=r"workspace_limit_bytes = GOTURN_CUDNN_WORKSPACE_LIMIT", optional=optional)
      for name, optional in [("cudnn_conv_layer", False), ("cudnn_deconv_layer", True)]],
]

SHIPPED_GENERATED = ["python/caffe/proto/caffe_pb2.py"]


def apply_edit(root: Path, edit: Edit) -> str:
    path = root / edit.path
    if not path.exists():
        if edit.optional:
            return "file absent"
        raise SystemExit(f"patch_caffe: {path} is missing; is {root} a Caffe source tree?")
    text = path.read_text()
    flags = re.M | re.S
    # checked first, so a tree patched before (CAFFE_SOURCE=/path) is not patched twice
    if edit.applied and re.search(edit.applied, text, flags):
        return "not needed (already in this tree)"
    new_text, count = re.subn(edit.pattern, edit.replacement, text, flags=flags)
    if count:
        path.write_text(new_text)
        return f"applied ({count}x)"
    raise SystemExit(f"patch_caffe: {edit.path}: no match for /{edit.pattern[:60]}/ "
                     f"and the fix is not already there: this Caffe tree is not one we support")


def patch_tree(root: Path, log=print) -> list:
    """Apply every edit; returns ``[(path, why, outcome)]``."""
    results = []
    for edit in EDITS:
        outcome = apply_edit(root, edit)
        results.append((edit.path, edit.why, outcome))
        log(f"  {edit.path}: {outcome}")
    for rel in SHIPPED_GENERATED:
        # A stale generated caffe_pb2.py (the PyPI tree ships one) fails under the
        # upb protobuf runtime with "duplicate file name"; the build regenerates it.
        shipped = root / rel
        if shipped.exists():
            shipped.unlink()
            results.append((rel, "regenerate with the local protoc", "removed shipped copy"))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", help="Caffe source tree to patch in place")
    parser.add_argument("--list", action="store_true", help="print the patch set and exit")
    args = parser.parse_args(argv)
    if args.list or not args.source:
        for edit in EDITS:
            print(f"{edit.path}: {edit.why}")
        return 0
    patch_tree(Path(args.source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
