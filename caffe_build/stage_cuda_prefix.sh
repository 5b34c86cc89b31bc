#!/usr/bin/env bash
# Stage cuBLAS, cuRAND and cuDNN headers + libraries from NVIDIA's PyPI wheels
# into a prefix, for building the CUDA Caffe on a machine that has nvcc but no
# CUDA math libraries (a minimal toolkit install), for a GPU machine that has the
# libraries but no compiler.  Two sets, one per toolkit major version (match the
# nvcc you build with; change the versions to match your GPU machine):
#   --cuda 13 (default): cuBLAS 13.0, cuRAND 10.4, cuDNN 9.14 for CUDA 13;
#   --cuda 12: cudart 12.4 (headers + libcudart), cuBLAS 12.4, cuRAND 10.3.5, cuDNN 9.1
#     for CUDA 12. NVIDIA's CUDA 12 nvcc wheels hold ptxas and libnvvm but no nvcc
#     driver, so the CUDA 12 compiler itself must come from a toolkit install.
#   bash caffe_build/stage_cuda_prefix.sh PREFIX [--cuda 12|13] [--nccl]
# then: CAFFE_DEPS_PREFIX=PREFIX USE_CUDA=1 CUDA_ARCH=90 make caffe
# --nccl adds NCCL (nccl.h and libnccl.so.2, a 300 MB wheel) for USE_NCCL=1 builds.
set -euo pipefail
usage() { echo "usage: stage_cuda_prefix.sh PREFIX [--cuda 12|13] [--nccl]" >&2; exit 2; }
prefix=${1:-}; [ -n "$prefix" ] || usage; shift
cuda=13 nccl=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) [ $# -ge 2 ] || usage; cuda=$2; shift 2;;
    --nccl) nccl=1; shift;;
    *) usage;;
  esac
done
python=${PYTHON:-python3}
case "$cuda" in
  13) wheels=(nvidia-cublas==13.0.0.19 nvidia-curand==10.4.0.35 nvidia-cudnn-cu13==9.14.0.64)
      [ $nccl = 1 ] && wheels+=(nvidia-nccl-cu13==2.32.3);;
  12) wheels=(nvidia-cuda-runtime-cu12==12.4.127 nvidia-cublas-cu12==12.4.5.8
              nvidia-curand-cu12==10.3.5.147 nvidia-cudnn-cu12==9.1.0.70)
      [ $nccl = 1 ] && wheels+=(nvidia-nccl-cu12==2.21.5);;
  *) echo "stage_cuda_prefix.sh: --cuda $cuda: this script stages CUDA 12 or 13" >&2; exit 2;;
esac
mkdir -p "$prefix/include" "$prefix/lib" "$prefix/wheels"
"$python" -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$prefix/wheels" "${wheels[@]}"
for wheel in "$prefix"/wheels/*.whl; do
  tmp=$(mktemp -d)
  "$python" -m zipfile -e "$wheel" "$tmp"
  # NCCL's device-side headers (nccl_device/core.h, ...) would clash once flattened; Caffe needs nccl.h
  find "$tmp" -path '*/include/*' -name '*.h' -not -path '*/nccl_device/*' -exec cp {} "$prefix/include/" \;
  find "$tmp" -name 'lib*.so*' -exec cp {} "$prefix/lib/" \;
  rm -rf "$tmp"
done
# The wheels ship versioned names only (libcublas.so.13); the linker wants the plain ones.
( cd "$prefix/lib" && for lib in lib*.so.*; do base=${lib%%.so.*}.so; [ -e "$base" ] || ln -s "$lib" "$base"; done )
echo "staged in $prefix: $(ls "$prefix/include" | wc -l) headers, $(ls "$prefix/lib" | wc -l) libraries"
