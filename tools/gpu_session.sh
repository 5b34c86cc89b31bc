#!/usr/bin/env bash
# The GPU benchmark session in one command (docs/gpu.md section 6):
#
#   tools/gpu_session.sh [--cpu] OUTDIR [ARCHIVE]
#
# Stages, each under its own time cap (`timeout`); a failed stage is recorded
# and the next one runs:
#   unpack          ARCHIVE (the runtime of caffe_build/pack_runtime.py) into $RUNTIME_DIR
#   doctor          python -m goturn_caffe.doctor
#   net_E           benchmark.py net, engine E = caffe, cudnn, batches $TARGETS
#   tracker_E       benchmark.py tracker, engine E, N = $TARGETS
#   bench_train     benchmark.py train: the data layer against the bare net, $WORKERS workers
#   train           tools/train.py --train-conv, stopped by --max-seconds, final snapshot
#   vot             the VOT protocol on the bundled car: that model beside the static box
#   nccl            tools/train.py --nccl: a 1-rank NCCL group, a few iterations
# Written under OUTDIR: summary.json (after every stage, atomically), logs/STAGE.out,
# logs/STAGE.err and logs/STAGE.status.json, bench/*.json, train/ and nccl/ (summary.json,
# loss.csv, run.json; loss.png where matplotlib exists), vot/ (results, summary.json/.md).
# The snapshots (455 MB each) stay in $WORKDIR, outside OUTDIR, and are deleted at the
# end unless WORKDIR was given.
#
# With ARCHIVE the stages run with the unpacked runtime's Python; without, .venv/bin/python
# (or $PYTHON).  --cpu (or GPU=none) is a dry run on the CPU: the stages that need no GPU
# run there (engine caffe), the ones that need one (cuDNN, NCCL) are expected to fail,
# cleanly.  Exit status 0 when every stage did what the mode expects (summary.json's
# "as_expected"), 1 otherwise, 2 on bad arguments.
#
# Settings (environment; the defaults are for a GPU machine, their caps add up to 535 s):
#   GPU=0|none  TARGETS=1,32  FORWARDS=200  STEPS=300  BENCH_ITERS=50  WORKERS=15  BATCH=50
#   TRAIN_SECONDS=80  TRAIN_MAX_ITER=1000000  NCCL_ITERS=5  NCCL_WORKERS=4
#   TRAIN_CONV=1 (0: bench_train, train and nccl leave the convolutions fixed, a cheaper dry run)
#   VOT_DATASET=data/sample/vot  VOT_EXPERIMENTS=baseline,region_noise
#   CAP_<STAGE>=seconds (e.g. CAP_TRAIN=140)  RUNTIME_DIR=/tmp  WORKDIR=(a fresh temp folder)
#   STAGES=doctor,vot,...  run only those (a rerun of failed stages; unpack always runs)
#   CUDA_HOME, CUDNN_LIB, NCCL_LIB as for the runtime's run.sh; where unset, the CUDA
#   libraries the loader cannot find are looked for in the machine's Python nvidia-* wheels.
set -uo pipefail

usage() { echo "usage: tools/gpu_session.sh [--cpu] OUTDIR [ARCHIVE]   (see the header of this script)" >&2; exit 2; }
cpu=0
args=()
for arg in "$@"; do
  case "$arg" in
    --cpu) cpu=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu_session.sh: unknown option $arg" >&2; usage ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || usage
[ "${GPU:-0}" = none ] && cpu=1
gpu_id=${GPU:-0}; [ "$gpu_id" = none ] && gpu_id=0

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
mkdir -p "${args[0]}/logs" "${args[0]}/bench" || { echo "gpu_session.sh: cannot create ${args[0]}" >&2; exit 2; }
out=$(cd "${args[0]}" && pwd)
archive=${args[1]:-}
[ -n "$archive" ] && case "$archive" in /*) ;; *) archive="$repo/$archive" ;; esac

TARGETS=${TARGETS:-1,32}; FORWARDS=${FORWARDS:-200}; STEPS=${STEPS:-300}
BENCH_ITERS=${BENCH_ITERS:-50}; WORKERS=${WORKERS:-15}; BATCH=${BATCH:-50}
TRAIN_SECONDS=${TRAIN_SECONDS:-80}; TRAIN_MAX_ITER=${TRAIN_MAX_ITER:-1000000}
NCCL_ITERS=${NCCL_ITERS:-5}; NCCL_WORKERS=${NCCL_WORKERS:-4}
train_conv=(--train-conv); [ "${TRAIN_CONV:-1}" = 0 ] && train_conv=()
VOT_DATASET=${VOT_DATASET:-data/sample/vot}; VOT_EXPERIMENTS=${VOT_EXPERIMENTS:-baseline,region_noise}
RUNTIME_DIR=${RUNTIME_DIR:-/tmp}
runtime="$RUNTIME_DIR/goturn-runtime"
if [ -n "${WORKDIR:-}" ]; then
  work=$WORKDIR; mkdir -p "$work"; own_work=0
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/goturn-session.XXXXXX"); own_work=1
fi
cleanup() { [ "$own_work" = 1 ] && rm -rf "$work"; }
trap cleanup EXIT
# the stages' temporary files too (a stage stopped by its cap cannot clean up after itself)
mkdir -p "$work/tmp" && export TMPDIR="$work/tmp"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

if [ "$cpu" = 1 ]; then
  mode=cpu; dev=(); engine_default=caffe
else
  mode=gpu; dev=(--gpu "$gpu_id"); engine_default=${TRAIN_ENGINE:-default}
fi
gpu_dev=(--gpu "$gpu_id")   # the stages that cannot run without a GPU get one in both modes

# name cap needs-gpu, in order
plan=(unpack:30:0 doctor:30:0 net_caffe:30:0 net_cudnn:30:1 tracker_caffe:40:0 tracker_cudnn:40:1
      bench_train:75:0 train:140:0 vot:60:0 nccl:60:1)
: > "$out/logs/stages.tsv.tmp"
for entry in "${plan[@]}"; do
  IFS=: read -r name cap needs <<< "$entry"
  var="CAP_$(echo "$name" | tr '[:lower:]' '[:upper:]')"
  printf '%s\t%s\t%s\n' "$name" "${!var:-$cap}" "$needs" >> "$out/logs/stages.tsv.tmp"
done
mv "$out/logs/stages.tsv.tmp" "$out/logs/stages.tsv"

json_str() {  # a JSON string literal of $1
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/ }; s=${s//$'\r'/}; s=${s//$'\n'/ }
  printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"
}

write_atomic() {  # write_atomic FILE < content
  cat > "$1.partial" && mv "$1.partial" "$1"
}

py=()   # the Python the stages run with, set by the unpack stage
summarize() {
  local candidates=()
  [ ${#py[@]} -gt 0 ] && candidates+=("${py[*]}")
  command -v python3 > /dev/null && candidates+=(python3)
  for candidate in "${candidates[@]}"; do
    # shellcheck disable=SC2086
    PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}" $candidate -m goturn_caffe.gpu_session "$out" \
      2>> "$out/logs/summary.err" && return 0
  done
  # no Python ran: the stage records side by side
  { printf '{"note": "no Python could write the full summary", "stages": ['
    local first=1
    for f in "$out"/logs/*.status.json; do
      [ -e "$f" ] || continue
      [ $first = 1 ] || printf ','
      first=0; cat "$f"
    done
    printf ']}\n'; } | write_atomic "$out/summary.json"
}

# run_stage NAME COMMAND...: under the stage's cap, logs to logs/NAME.{out,err}, then the record
wanted() { [ -z "${STAGES:-}" ] || [ "$1" = unpack ] || [[ ",$STAGES," == *",$1,"* ]]; }
cap_of() { awk -F'\t' -v n="$1" '$1 == n {print $2}' "$out/logs/stages.tsv"; }
record() {  # record NAME STATUS RC SECONDS REASON COMMAND
  printf '{"stage": %s, "status": %s, "rc": %s, "seconds": %s, "reason": %s, "command": %s}\n' \
    "$(json_str "$1")" "$(json_str "$2")" "$3" "$4" "$(json_str "$5")" "$(json_str "$6")" \
    | write_atomic "$out/logs/$1.status.json"
  echo "[session] $1: $2 (rc $3, $4 s)${5:+: $5}"
  summarize
}
run_stage() {
  local name=$1; shift
  wanted "$name" || return 0
  local cap; cap=$(cap_of "$name")
  local start; start=$(date +%s.%N)
  echo "[session] $name (cap ${cap} s): $*"
  timeout -k 10 "$cap" "$@" > "$out/logs/$name.out" 2> "$out/logs/$name.err" < /dev/null
  local rc=$?
  local seconds; seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  local status=ok reason=""
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    status=timeout; reason="stopped by its time cap of $cap s"
  elif [ $rc != 0 ]; then
    status=failed
    reason=$(grep -v '^[[:space:]]*$' "$out/logs/$name.err" | tail -n 1 | cut -c1-400)
    [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$out/logs/$name.out" | tail -n 1 | cut -c1-400)
    [ -n "$reason" ] || reason="exit status $rc, no output"
  fi
  record "$name" "$status" "$rc" "$seconds" "$reason" "$*"
}
fail_stage() {  # fail_stage NAME REASON: a stage that could not start
  wanted "$1" || return 0
  : > "$out/logs/$1.out"; printf '%s\n' "$2" > "$out/logs/$1.err"
  record "$1" failed 1 0 "$2" ""
}

printf '{"mode": %s, "gpu": %s, "outdir": %s, "archive": %s, "workdir": %s, "started": %s, "settings": {"targets": %s, "forwards": %s, "steps": %s, "bench_iters": %s, "workers": %s, "batch": %s, "train_seconds": %s, "nccl_iters": %s, "train_conv": %s, "vot_dataset": %s, "vot_experiments": %s, "stages": %s}}\n' \
  "$(json_str $mode)" "$(json_str "$([ $cpu = 1 ] && echo none || echo "$gpu_id")")" "$(json_str "$out")" \
  "$(json_str "$archive")" "$(json_str "$work")" "$(json_str "$(date '+%Y-%m-%d %H:%M:%S')")" \
  "$(json_str "$TARGETS")" "$FORWARDS" "$STEPS" "$BENCH_ITERS" "$WORKERS" "$BATCH" "$TRAIN_SECONDS" \
  "$NCCL_ITERS" "$([ ${#train_conv[@]} = 1 ] && echo true || echo false)" "$(json_str "$VOT_DATASET")" "$(json_str "$VOT_EXPERIMENTS")" "$(json_str "${STAGES:-all}")" \
  | write_atomic "$out/logs/session.json"

# ---- 1 unpack (and where the CUDA libraries are) --------------------------------------
find_cuda_libs() {  # print a directory for each CUDA library the loader would not find
  local cuda=${CUDA_HOME:-/usr/local/cuda} dirs=""
  local wheel_roots
  wheel_roots=$(python3 -c 'import nvidia, sys; print(" ".join(nvidia.__path__))' 2> /dev/null)
  for lib in libcudart.so.13 libcublas.so.13 libcurand.so.10 libcudnn.so.9 libnccl.so.2; do
    [ -e "$cuda/lib64/$lib" ] && continue
    for d in ${CUDNN_LIB:-} ${NCCL_LIB:-}; do [ -e "$d/$lib" ] && continue 2; done
    ldconfig -p 2> /dev/null | grep -q "[[:space:]]$lib[[:space:]]" && continue
    [ -n "$wheel_roots" ] || { echo "not found: $lib" >&2; continue; }
    # shellcheck disable=SC2086
    local found; found=$(find $wheel_roots -name "$lib" 2> /dev/null | head -n 1)
    if [ -n "$found" ]; then dirs="$dirs:$(dirname "$found")"; else echo "not found: $lib" >&2; fi
  done
  printf '%s\n' "${dirs#:}"
}
# $1: where to, $2: the archive.  tar needs the xz program; without it, the machine's python3.
read -r -d '' unpack_script <<'EOS'
if [ -x "$1/goturn-runtime/run.sh" ]; then echo "already unpacked in $1"; exit 0; fi
mkdir -p "$1" || exit 1
if command -v xz > /dev/null; then tar xJf "$2" -C "$1" || exit 1
else
  echo "no xz program: unpacking with python3's tarfile"
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' "$2" "$1" || exit 1
fi
echo "unpacked $2 into $1"
EOS
if [ -n "$archive" ]; then
  if [ ! -f "$archive" ]; then
    fail_stage unpack "runtime archive not found: $archive (build it with caffe_build/pack_runtime.py, docs/gpu.md section 3)"
  else
    run_stage unpack bash -c "$unpack_script" _ "$RUNTIME_DIR" "$archive"
  fi
  if [ -x "$runtime/run.sh" ]; then
    extra=$(find_cuda_libs 2>> "$out/logs/unpack.err")
    if [ -n "$extra" ]; then
      export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "CUDA libraries from the machine's Python wheels: $extra" >> "$out/logs/unpack.out"
    fi
    py=("$runtime/run.sh" python)
  fi
else
  wanted unpack && { echo "no archive given: the stages run with ${PYTHON:-.venv/bin/python}" > "$out/logs/unpack.out"
                     : > "$out/logs/unpack.err"
                     record unpack skipped 0 0 "no archive given: using ${PYTHON:-.venv/bin/python}" ""; }
fi
if [ ${#py[@]} = 0 ]; then
  if [ -n "${PYTHON:-}" ]; then py=("$PYTHON")
  elif [ -x .venv/bin/python ]; then py=(.venv/bin/python)
  fi
fi
if [ ${#py[@]} = 0 ]; then
  for entry in "${plan[@]:1}"; do
    fail_stage "${entry%%:*}" "no Python to run with: the runtime did not unpack and there is no .venv"
  done
  exit 1
fi
echo "[session] mode $mode, python: ${py[*]}, output: $out, work: $work"

# ---- 2 doctor ------------------------------------------------------------------------------
run_stage doctor "${py[@]}" -m goturn_caffe.doctor

# ---- 3 network and tracker per engine -----------------------------------------------------------
for engine in caffe cudnn; do
  if [ $engine = cudnn ]; then d=("${gpu_dev[@]}"); else d=("${dev[@]}"); fi
  run_stage "net_$engine" "${py[@]}" tools/benchmark.py net "${d[@]}" --engine $engine \
    --batches "$TARGETS" --forwards "$FORWARDS" --json "$out/bench/net_$engine.json"
done
for engine in caffe cudnn; do
  if [ $engine = cudnn ]; then d=("${gpu_dev[@]}"); else d=("${dev[@]}"); fi
  run_stage "tracker_$engine" "${py[@]}" tools/benchmark.py tracker "${d[@]}" --engine $engine \
    --targets "$TARGETS" --steps "$STEPS" --no-opencv --json "$out/bench/tracker_$engine.json"
done

# ---- 4 the data layer against the bare net -------------------------------------------------
run_stage bench_train "${py[@]}" tools/benchmark.py train "${dev[@]}" --engine "$engine_default" \
  "${train_conv[@]}" --iterations "$BENCH_ITERS" --workers "$WORKERS" --batch-size "$BATCH" \
  --json "$out/bench/bench_train.json"

# ---- 5 training capped by wall time ------------------------------------------------------------
keep_run_files() {  # the small files of a training run, copied into OUTDIR/NAME
  for f in summary.json loss.csv loss.png run.json solver.prototxt; do
    [ -f "$work/$1/$f" ] && mkdir -p "$out/$2" && cp "$work/$1/$f" "$out/$2/"
  done
  return 0
}
run_stage train "${py[@]}" tools/train.py "${dev[@]}" --engine "$engine_default" "${train_conv[@]}" \
  --max-iter "$TRAIN_MAX_ITER" --max-seconds "$TRAIN_SECONDS" --snapshot 0 --workers "$WORKERS" \
  --batch-size "$BATCH" --no-progress --output "$work/train"
keep_run_files train train

# ---- 6 the VOT protocol: that model beside the static box -------------------------------------
model=""
[ -f "$work/train/summary.json" ] && model=$("${py[@]}" -c \
  'import json, sys; print(json.load(open(sys.argv[1]))["model"])' "$work/train/summary.json" 2> /dev/null)
if [ -n "$model" ] && [ -f "$model" ]; then
  run_stage vot "${py[@]}" tools/eval_vot2014.py --tracker goturn,static --weights "$model" \
    "${dev[@]}" --engine caffe --dataset "$VOT_DATASET" --experiments "$VOT_EXPERIMENTS" \
    --output "$out/vot"
else
  fail_stage vot "no trained model: the train stage wrote none (see logs/train.err)"
fi

# ---- 7 a 1-rank NCCL group ----------------------------------------------------------------------
run_stage nccl "${py[@]}" tools/train.py "${gpu_dev[@]}" --nccl --engine "$engine_default" \
  "${train_conv[@]}" --max-iter "$NCCL_ITERS" --snapshot 0 --workers "$NCCL_WORKERS" \
  --batch-size "$BATCH" --no-progress --output "$work/nccl"
keep_run_files nccl nccl

# ---- 8 the summary ---------------------------------------------------------------------------------
summarize
if grep -q '"as_expected": true' "$out/summary.json"; then
  echo "[session] done: every stage as expected; $out/summary.json"
  exit 0
fi
echo "[session] done, NOT every stage as expected: see $out/summary.json and $out/logs/"
exit 1
