#!/usr/bin/env bash
# Stage cuBLAS, cuRAND and cuDNN headers + libraries from NVIDIA's PyPI wheels
# into a prefix, for building the CUDA Caffe on a machine that has nvcc but no
# CUDA math libraries (a minimal toolkit install), for a GPU machine that has the
# libraries but no compiler.  The versions are CUDA 13.0's and cuDNN 9.14's: change
# them to match your GPU machine.
#   bash caffe_build/stage_cuda_prefix.sh PREFIX [--nccl]
# then: CAFFE_DEPS_PREFIX=PREFIX USE_CUDA=1 CUDA_ARCH=90 make caffe
# --nccl adds NCCL 2.32.3 (nccl.h and libnccl.so.2, a 300 MB wheel) for USE_NCCL=1 builds.
set -euo pipefail
prefix=${1:?usage: stage_cuda_prefix.sh PREFIX [--nccl]}
python=${PYTHON:-python3}
wheels=(nvidia-cublas==13.0.0.19 nvidia-curand==10.4.0.35 nvidia-cudnn-cu13==9.14.0.64)
[ "${2:-}" = "--nccl" ] && wheels+=(nvidia-nccl-cu13==2.32.3)
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
