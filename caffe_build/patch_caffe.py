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

# ------------------------------------------------------------------ CPU speed --
# Exact rewrites of the CPU hot spots of the GOTURN deploy net (results equal
# to float rounding); measured per layer with `tools/benchmark.py compare`.
INNER_PRODUCT = "src/caffe/layers/inner_product_layer.cpp"
POOLING = "src/caffe/layers/pooling_layer.cpp"
IM2COL = "src/caffe/util/im2col.cpp"
RELU = "src/caffe/layers/relu_layer.cpp"

# Inserted at the top of pycaffe's __init__.py (runs before _caffe loads OpenBLAS).
OPENBLAS_CORE_CHECK = r"""# goturn-caffe: OpenBLAS picks its kernels by CPU model; a release older than the
# CPU (Debian 12's 0.3.21 on a 2023 Xeon, say) falls back to its SSE3 kernels, at a
# third of the speed.  When it would, name the family from the CPU's instruction
# sets (OPENBLAS_CORETYPE, read when OpenBLAS loads); a value the user set wins.
def _goturn_openblas_coretype():
    import os, re, subprocess, sys
    if "OPENBLAS_CORETYPE" in os.environ or not os.path.exists("/proc/cpuinfo"):
        return None
    with open("/proc/self/maps") as maps:  # libcaffe, and its OpenBLAS, loaded: too late
        if re.search(r"/libcaffe[^/]*\.so", maps.read()):   # (the caffe binary's Python layers)
            return None
    with open("/proc/cpuinfo") as cpuinfo:
        found = re.search(r"^flags\s*:(.*)$", cpuinfo.read(), re.M)
    flags = set(found.group(1).split()) if found else set()   # x86 only
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags:
        family = "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        family = "Haswell"
    else:
        return None
    probe = ("import ctypes; f = ctypes.CDLL('libopenblas.so.0').openblas_get_corename; "
             "f.restype = ctypes.c_char_p; print(f().decode())")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "OMP_"))}
    try:
        core = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True,
                              text=True, timeout=30, env=dict(env, OPENBLAS_NUM_THREADS="1"))
    except (OSError, subprocess.SubprocessError):
        return None
    # OpenBLAS's families without AVX2 kernels: its fallbacks for a CPU it does not know
    if core.returncode or core.stdout.strip().lower() not in (
            "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2",
            "penryn", "dunnington", "nehalem", "sandybridge", "opteron", "opteron_sse3",
            "barcelona", "bobcat", "bulldozer", "piledriver", "steamroller", "excavator",
            "unknown"):
        return None
    os.environ["OPENBLAS_CORETYPE"] = family
    return family


try:
    _goturn_openblas_coretype()
except OSError:  # /proc unreadable: OpenBLAS's own choice stands
    pass
"""

CPU_EDITS = [
    Edit(INNER_PRODUCT,
         r"(  const Dtype\* weight = this->blobs_\[0\]->cpu_data\(\);\n)"
         r"(  caffe_cpu_gemm<Dtype>\(CblasNoTrans, transpose_ \? CblasNoTrans : CblasTrans,\n"
         r"\s*M_, N_, K_, \(Dtype\)1\.,\n\s*bottom_data, weight, \(Dtype\)0\., top_data\);\n"
         r"  if \(bias_term_\) \{\n.*?top_data\);\n  \}\n)",
         r"\1  if (M_ == 1) {  // goturn-caffe: one input row: a matrix-vector product\n"
         r"    caffe_cpu_gemv<Dtype>(transpose_ ? CblasTrans : CblasNoTrans,\n"
         r"        transpose_ ? K_ : N_, transpose_ ? N_ : K_, (Dtype)1.,\n"
         r"        weight, bottom_data, (Dtype)0., top_data);\n"
         r"    if (bias_term_) {\n"
         r"      caffe_axpy<Dtype>(N_, (Dtype)1., this->blobs_[1]->cpu_data(), top_data);\n"
         r"    }\n"
         r"    return;\n"
         r"  }\n\2",
         "performance: InnerProduct forward at batch 1 (M = 1) ran a GEMM with one row, about "
         "half the speed of a GEMV on the same weights (fc6: 302 MB streamed per frame); take "
         "caffe_cpu_gemv, as Caffe's GPU code does, and add the bias with caffe_axpy instead of "
         "a second GEMM (transposed weights too, which the GPU branch ignores)",
         applied=r"goturn-caffe: one input row: a matrix-vector product"),
    Edit(INNER_PRODUCT,
         r"(\ntemplate <typename Dtype>\nvoid InnerProductLayer<Dtype>::Backward_cpu\()",
         r"\n// goturn-caffe: A += alpha x y' (A row-major M x N): the weight gradient of one row\n"
         r"inline void goturn_ger(const int M, const int N, const float alpha, const float* x,\n"
         r"    const float* y, float* A) {\n"
         r"  cblas_sger(CblasRowMajor, M, N, alpha, x, 1, y, 1, A, N);\n}\n"
         r"inline void goturn_ger(const int M, const int N, const double alpha, const double* x,\n"
         r"    const double* y, double* A) {\n"
         r"  cblas_dger(CblasRowMajor, M, N, alpha, x, 1, y, 1, A, N);\n}\n\1",
         "(InnerProduct backward at M = 1) a rank-1 update (BLAS ger) for the weight gradient",
         applied=r"inline void goturn_ger\("),
    Edit(INNER_PRODUCT,
         r"(    // Gradient with respect to weight\n)    if \(transpose_\) \{\n",
         r"\1    if (M_ == 1) {  // goturn-caffe: one row: a rank-1 update\n"
         r"      if (transpose_) {\n"
         r"        goturn_ger(K_, N_, (Dtype)1., bottom_data, top_diff,\n"
         r"            this->blobs_[0]->mutable_cpu_diff());\n"
         r"      } else {\n"
         r"        goturn_ger(N_, K_, (Dtype)1., top_diff, bottom_data,\n"
         r"            this->blobs_[0]->mutable_cpu_diff());\n"
         r"      }\n"
         r"    } else if (transpose_) {\n",
         "performance: InnerProduct backward at M = 1: the weight gradient by ger, not a GEMM "
         "with an inner dimension of 1",
         applied=r"goturn-caffe: one row: a rank-1 update"),
    Edit(INNER_PRODUCT,
         r"(    // Gradient with respect to bottom data\n)    if \(transpose_\) \{\n",
         r"\1    if (M_ == 1) {  // goturn-caffe: one row: a matrix-vector product\n"
         r"      caffe_cpu_gemv<Dtype>(transpose_ ? CblasNoTrans : CblasTrans,\n"
         r"          transpose_ ? K_ : N_, transpose_ ? N_ : K_, (Dtype)1.,\n"
         r"          this->blobs_[0]->cpu_data(), top_diff, (Dtype)0.,\n"
         r"          bottom[0]->mutable_cpu_diff());\n"
         r"    } else if (transpose_) {\n",
         "performance: InnerProduct backward at M = 1: the input gradient by GEMV, not a "
         "one-row GEMM",
         applied=r"goturn-caffe: one row: a matrix-vector product"),
    Edit(POOLING, r"(#include <vector>\n)",
         r"\1#ifdef __SSE2__\n#include <emmintrin.h>  // goturn-caffe: max pooling below\n#endif\n",
         "(max pooling below) the SSE header", applied=r"goturn-caffe: max pooling below"),
    Edit(POOLING, r"(\nusing std::max;\n)",
         r"\1\n"
         r"// goturn-caffe: max pooling of one plane.  Each output scans its window row by\n"
         r"// row, left to right, keeping the first maximum, exactly as before, with the\n"
         r"// running maximum and index in registers; on SSE2, four outputs whose windows\n"
         r"// lie inside the image go together, branch-free (value > best picks value).\n"
         r"template <typename Dtype, typename Index>\n"
         r"inline bool goturn_max_pool4(const Dtype*, const int, const int, const int,\n"
         r"    const int, const int, const int, Dtype*, Index*) {\n"
         r"  return false;\n}\n"
         r"#ifdef __SSE2__\n"
         r"template <typename Index>\n"
         r"inline bool goturn_max_pool4(const float* bottom, const int width, const int hstart,\n"
         r"    const int hend, const int wstart, const int kernel_w, const int stride_w,\n"
         r"    float* top, Index* mask) {\n"
         r"  __m128 best = _mm_set1_ps(-FLT_MAX);\n"
         r"  __m128i index = _mm_set1_epi32(-1);\n"
         r"  for (int h = hstart; h < hend; ++h) {\n"
         r"    for (int w = wstart; w < wstart + kernel_w; ++w) {\n"
         r"      const int i = h * width + w;\n"
         r"      const __m128 value = _mm_setr_ps(bottom[i], bottom[i + stride_w],\n"
         r"          bottom[i + 2 * stride_w], bottom[i + 3 * stride_w]);\n"
         r"      const __m128 greater = _mm_cmpgt_ps(value, best);\n"
         r"      const __m128i pick = _mm_castps_si128(greater);\n"
         r"      best = _mm_or_ps(_mm_and_ps(greater, value), _mm_andnot_ps(greater, best));\n"
         r"      const __m128i at = _mm_setr_epi32(i, i + stride_w, i + 2 * stride_w,\n"
         r"                                        i + 3 * stride_w);\n"
         r"      index = _mm_or_si128(_mm_and_si128(pick, at), _mm_andnot_si128(pick, index));\n"
         r"    }\n"
         r"  }\n"
         r"  _mm_storeu_ps(top, best);\n"
         r"  int indices[4];\n"
         r"  _mm_storeu_si128(reinterpret_cast<__m128i*>(indices), index);\n"
         r"  for (int k = 0; k < 4; ++k) {\n"
         r"    mask[k] = static_cast<Index>(indices[k]);\n"
         r"  }\n"
         r"  return true;\n}\n"
         r"#endif\n\n"
         r"template <typename Dtype, typename Index>\n"
         r"static void goturn_max_pool_plane(const Dtype* bottom, const int height,\n"
         r"    const int width, const int pooled_height, const int pooled_width,\n"
         r"    const int kernel_h, const int kernel_w, const int stride_h,\n"
         r"    const int stride_w, const int pad_h, const int pad_w, Dtype* top,\n"
         r"    Index* mask) {\n"
         r"  // outputs [inner_lo, inner_hi) have windows within the columns of the image\n"
         r"  const int inner_lo = (pad_w + stride_w - 1) / stride_w;\n"
         r"  const int inner_hi = width + pad_w - kernel_w >= 0 ?\n"
         r"      min(pooled_width, (width + pad_w - kernel_w) / stride_w + 1) : 0;\n"
         r"  for (int ph = 0; ph < pooled_height; ++ph) {\n"
         r"    int hstart = ph * stride_h - pad_h;\n"
         r"    const int hend = min(hstart + kernel_h, height);\n"
         r"    hstart = max(hstart, 0);\n"
         r"    Dtype* top_row = top + ph * pooled_width;\n"
         r"    Index* mask_row = mask + ph * pooled_width;\n"
         r"    for (int pw = 0; pw < pooled_width;) {\n"
         r"      const int wstart = pw * stride_w - pad_w;\n"
         r"      if (pw >= inner_lo && pw + 4 <= inner_hi &&\n"
         r"          goturn_max_pool4(bottom, width, hstart, hend, wstart, kernel_w, stride_w,\n"
         r"                           top_row + pw, mask_row + pw)) {\n"
         r"        pw += 4;\n"
         r"        continue;\n"
         r"      }\n"
         r"      const int wend = min(wstart + kernel_w, width);\n"
         r"      Dtype best = -FLT_MAX;\n"
         r"      int index = -1;\n"
         r"      for (int h = hstart; h < hend; ++h) {\n"
         r"        for (int w = max(wstart, 0); w < wend; ++w) {\n"
         r"          const Dtype value = bottom[h * width + w];\n"
         r"          const bool greater = value > best;\n"
         r"          best = greater ? value : best;\n"
         r"          index = greater ? h * width + w : index;\n"
         r"        }\n"
         r"      }\n"
         r"      top_row[pw] = best;\n"
         r"      mask_row[pw] = static_cast<Index>(index);\n"
         r"      ++pw;\n"
         r"    }\n"
         r"  }\n"
         r"}\n",
         "(max pooling below) the per-plane loop",
         applied=r"static void goturn_max_pool_plane\("),
    Edit(POOLING,
         r"( +)for \(int c = 0; c < channels_; \+\+c\) \{\n"
         r" +for \(int ph = 0; ph < pooled_height_; \+\+ph\) \{\n"
         r" +for \(int pw = 0; pw < pooled_width_; \+\+pw\) \{\n"
         r" +int hstart = ph \* stride_h_ - pad_h_;\n"
         r" +int wstart = pw \* stride_w_ - pad_w_;\n"
         r" +int hend = min\(hstart \+ kernel_h_, height_\);\n"
         r" +int wend = min\(wstart \+ kernel_w_, width_\);\n"
         r" +hstart = max\(hstart, 0\);\n"
         r" +wstart = max\(wstart, 0\);\n"
         r" +const int pool_index = ph \* pooled_width_ \+ pw;\n"
         r" +for \(int h = hstart; h < hend; \+\+h\) \{\n"
         r" +for \(int w = wstart; w < wend; \+\+w\) \{\n"
         r" +const int index = h \* width_ \+ w;\n"
         r" +if \(bottom_data\[index\] > top_data\[pool_index\]\) \{\n"
         r" +top_data\[pool_index\] = bottom_data\[index\];\n"
         r" +if \(use_top_mask\) \{\n"
         r" +top_mask\[pool_index\] = static_cast<Dtype>\(index\);\n"
         r" +\} else \{\n +mask\[pool_index\] = index;\n +\}\n +\}\n +\}\n +\}\n +\}\n +\}\n",
         r"\1for (int c = 0; c < channels_; ++c) {\n"
         r"\1  // goturn-caffe: one plane at a time (see goturn_max_pool_plane above)\n"
         r"\1  if (use_top_mask) {\n"
         r"\1    goturn_max_pool_plane(bottom_data, height_, width_, pooled_height_,\n"
         r"\1        pooled_width_, kernel_h_, kernel_w_, stride_h_, stride_w_, pad_h_,\n"
         r"\1        pad_w_, top_data, top_mask);\n"
         r"\1  } else {\n"
         r"\1    goturn_max_pool_plane(bottom_data, height_, width_, pooled_height_,\n"
         r"\1        pooled_width_, kernel_h_, kernel_w_, stride_h_, stride_w_, pad_h_,\n"
         r"\1        pad_w_, top_data, mask);\n"
         r"\1  }\n",
         "performance: max pooling compared each input element with the output in memory and "
         "stored it (a data-dependent branch through memory, one chain per window); keep the "
         "running maxima in registers, four windows at a time on SSE2: the same values and indices, "
         "the first maximum winning as before",
         applied=r"goturn-caffe: one plane at a time \(see goturn_max_pool_plane"),
    Edit(RELU, r"(#include <algorithm>\n#include <vector>\n)",
         r"\1#ifdef __SSE2__\n#include <emmintrin.h>  // goturn-caffe: ReLU below\n#endif\n",
         "(ReLU below) the SSE header", applied=r"goturn-caffe: ReLU below"),
    Edit(RELU, r"(\nnamespace caffe \{\n)",
         r"\1\n// goturn-caffe: the ReLU of the first elements, four at a time on SSE2;\n"
         r"// returns how many were done (the rest go through Caffe's loop).  maxps(0, x)\n"
         r"// and minps(0, x) are std::max(x, 0) and std::min(x, 0) bit for bit, NaN and -0\n"
         r"// included; g++ -O2 compiled those with a branch per element, which random\n"
         r"// signs mispredict half the time.\n"
         r"template <typename Dtype>\n"
         r"inline int goturn_relu_forward(const int, const Dtype*, Dtype*, const Dtype) {\n"
         r"  return 0;\n}\n"
         r"#ifdef __SSE2__\n"
         r"inline int goturn_relu_forward(const int count, const float* bottom, float* top,\n"
         r"    const float negative_slope) {\n"
         r"  const __m128 zero = _mm_setzero_ps();\n"
         r"  const __m128 slope = _mm_set1_ps(negative_slope);\n"
         r"  int i = 0;\n"
         r"  for (; i + 4 <= count; i += 4) {\n"
         r"    const __m128 x = _mm_loadu_ps(bottom + i);\n"
         r"    _mm_storeu_ps(top + i, _mm_add_ps(_mm_max_ps(zero, x),\n"
         r"                                      _mm_mul_ps(slope, _mm_min_ps(zero, x))));\n"
         r"  }\n"
         r"  return i;\n}\n"
         r"#endif\n",
         "(ReLU below) the SSE loop", applied=r"inline int goturn_relu_forward\("),
    Edit(RELU,
         r"(  Dtype negative_slope = this->layer_param_\.relu_param\(\)\.negative_slope\(\);\n)"
         r"  for \(int i = 0; i < count; \+\+i\) \{\n"
         r"(    top_data\[i\] = std::max\(bottom_data\[i\], Dtype\(0\)\)\n)",
         r"\1  // goturn-caffe: four at a time where SSE2 is (the same values)\n"
         r"  for (int i = goturn_relu_forward(count, bottom_data, top_data, negative_slope);\n"
         r"       i < count; ++i) {\n\2",
         "performance: ReLU forward was compiled (g++ -O2) with a data-dependent branch per "
         "element, ~5 ns each on random signs: 9% of a GOTURN forward; SSE max/min, bit for "
         "bit the same results",
         applied=r"goturn-caffe: four at a time where SSE2 is"),
    Edit(IM2COL, r"\A((?:[^\n]*\n)*?)#include <vector>\n",
         r"\1#include <algorithm>  // goturn-caffe: std::copy, std::fill (im2col_cpu)\n#include <vector>\n",
         "(im2col_cpu below) its header", applied=r"goturn-caffe: std::copy, std::fill"),
    Edit(IM2COL,
         r"( +)int input_row = -pad_h \+ kernel_row \* dilation_h;\n"
         r" +for \(int output_rows = output_h; output_rows; output_rows--\) \{\n"
         r" +if \(!is_a_ge_zero_and_a_lt_b\(input_row, height\)\) \{\n"
         r" +for \(int output_cols = output_w; output_cols; output_cols--\) \{\n"
         r" +\*\(data_col\+\+\) = 0;\n +\}\n +\} else \{\n"
         r" +int input_col = -pad_w \+ kernel_col \* dilation_w;\n"
         r" +for \(int output_col = output_w; output_col; output_col--\) \{\n"
         r" +if \(is_a_ge_zero_and_a_lt_b\(input_col, width\)\) \{\n"
         r" +\*\(data_col\+\+\) = data_im\[input_row \* width \+ input_col\];\n"
         r" +\} else \{\n +\*\(data_col\+\+\) = 0;\n +\}\n"
         r" +input_col \+= stride_w;\n +\}\n +\}\n"
         r" +input_row \+= stride_h;\n +\}\n",
         r"\1// goturn-caffe: the output columns [lo, hi) read inside the image, the\n"
         r"\1// rest are padding: found once per kernel offset, not tested per element\n"
         r"\1const int first_col = -pad_w + kernel_col * dilation_w;\n"
         r"\1const int lo = std::min(output_w,\n"
         r"\1    first_col >= 0 ? 0 : (stride_w - 1 - first_col) / stride_w);\n"
         r"\1const int hi = std::max(lo, std::min(output_w,\n"
         r"\1    width > first_col ? (width - first_col + stride_w - 1) / stride_w : 0));\n"
         r"\1int input_row = -pad_h + kernel_row * dilation_h;\n"
         r"\1for (int output_rows = output_h; output_rows; output_rows--) {\n"
         r"\1  if (!is_a_ge_zero_and_a_lt_b(input_row, height)) {\n"
         r"\1    std::fill(data_col, data_col + output_w, Dtype(0));\n"
         r"\1  } else {\n"
         r"\1    const Dtype* row = data_im + input_row * width;\n"
         r"\1    std::fill(data_col, data_col + lo, Dtype(0));\n"
         r"\1    if (stride_w == 1 && hi > lo) {\n"
         r"\1      std::copy(row + first_col + lo, row + first_col + hi, data_col + lo);\n"
         r"\1    } else {\n"
         r"\1      for (int col = lo; col < hi; ++col) {\n"
         r"\1        data_col[col] = row[first_col + col * stride_w];\n"
         r"\1      }\n"
         r"\1    }\n"
         r"\1    std::fill(data_col + hi, data_col + output_w, Dtype(0));\n"
         r"\1  }\n"
         r"\1  data_col += output_w;\n"
         r"\1  input_row += stride_h;\n"
         r"\1}\n",
         "performance: im2col_cpu tested every element against the image bounds; compute the "
         "in-image column range once per kernel offset, then fill the padding and copy the row "
         "(contiguous at stride 1): the same matrix, about 2x faster on the GOTURN convolutions",
         applied=r"goturn-caffe: the output columns \[lo, hi\) read inside the image"),
    Edit("python/caffe/__init__.py", r"\A(?=from \.pycaffe import)",
         OPENBLAS_CORE_CHECK.replace("\\", "\\\\"),
         "performance: an OpenBLAS older than the CPU (Debian 12's 0.3.21 on Sapphire/Emerald "
         "Rapids) runs its SSE3 kernels, 2-3x slower convolutions; pycaffe names the AVX2 or "
         "AVX-512 family from /proc/cpuinfo when OpenBLAS itself would fall back (its pick is "
         "probed in a subprocess; OPENBLAS_CORETYPE set by the user wins)",
         applied=r"def _goturn_openblas_coretype\("),
    Edit("Makefile",
         r"^(CXXFLAGS \+= -pthread -fPIC \$\(COMMON_FLAGS\) \$\(WARNINGS\))\n",
         r"\1 $(GOTURN_CXXFLAGS)\n",
         "host C++ flags appended last, so they win over the release -O2: CAFFE_NATIVE=1 sets "
         "GOTURN_CXXFLAGS := -O3 -march=native in Makefile.config (nvcc never sees them)",
         applied=r"\$\(WARNINGS\) \$\(GOTURN_CXXFLAGS\)"),
]
EDITS += CPU_EDITS

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
