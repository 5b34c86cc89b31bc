# goturn-caffe: the two commands are `make demo` and `make test`; each sets up
# everything it needs (system packages, virtualenv, Caffe built from source).
SHELL := /bin/bash
# The interpreter follows Boost.Python (pycaffe links libboost_python3XX, which only
# works in the Python it was built for): caffe_build/pick_python.sh finds it after
# `make deps`.  PYTHON=python3.X overrides.
PYTHON ?=
VENV ?= .venv
PY := $(VENV)/bin/python
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES := build-essential libboost-system-dev libboost-thread-dev libboost-filesystem-dev \
	libboost-python-dev libboost-regex-dev libgoogle-glog-dev libgflags-dev libprotobuf-dev \
	protobuf-compiler libhdf5-dev liblmdb-dev libleveldb-dev libsnappy-dev libopenblas-dev \
	python3-dev python3-venv
EXP ?= l2_loss
ARGS ?=

.PHONY: help deps venv caffe test lint demo train bench data weights model prototxt eval ablation doctor clean

help:
	@echo "make test      set up deps, venv and Caffe, then run the test suite"
	@echo "make lint      ruff check (ruff.toml); make test runs it first"
	@echo "make demo      set up, train a demonstration model if none, track the bundled sequence"
	@echo "make train     train GOTURN (ARGS='--max-iter N --gpu 0 ...', see tools/train.py --help)"
	@echo "make bench     tracker / preprocessing / data speed benchmarks"
	@echo "make eval      VOT2014 protocol (ARGS='--tracker goturn --dataset DIR ...')"
	@echo "make ablation EXP=l2_loss   one of the paper's experiments (tools/ablation.py --help)"
	@echo "make data      build the LMDB training cache (ARGS='--alov DIR --det DIR --output DIR')"
	@echo "make weights   CaffeNet -> models/goturn_init.caffemodel (ARGS='--caffenet FILE')"
	@echo "make model     download OpenCV's trained GOTURN and CaffeNet (+ make weights) (ARGS='opencv-goturn --mirror URL ...')"
	@echo "make prototxt  regenerate prototxt/ from src/goturn_caffe/netspec.py"
	@echo "make caffe     build Caffe (CPU; CUDA where a GPU is found; see caffe_build/build_caffe.py)"
	@echo "make doctor    print the Caffe build info and what works"

# System packages (Debian/Ubuntu). Skipped when they are all there, or when a
# CAFFE_DEPS_PREFIX of unpacked .debs replaces the package manager.
deps:
	@if [ -n "$$CAFFE_DEPS_PREFIX" ]; then echo "[deps] using CAFFE_DEPS_PREFIX=$$CAFFE_DEPS_PREFIX"; \
	elif dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1; then echo "[deps] system packages present"; \
	else echo "[deps] installing: $(DEB_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $(DEB_PACKAGES) >/dev/null; fi

# Python packages go through a wheelhouse beside the Caffe cache: filled from PyPI
# when it is reachable, so that later set-ups (a fresh clone, a new venv) also
# work offline.  Wheels only (--only-binary :all:): the set-up never builds a
# package from source, so a missing wheel is one clear pip error, never a compiler
# or cmake run.  setuptools/wheel (wheels too) build this project's own editable
# install.
WHEELHOUSE ?= $(HOME)/.cache/goturn-caffe/wheels
PIP := $(PY) -m pip -q --disable-pip-version-check
WHEELS_ONLY := --only-binary :all:
$(VENV)/.installed: requirements.txt requirements-vot.txt setup.py caffe_build/pick_python.sh
	@python="$(PYTHON)"; \
	if [ -z "$$python" ]; then python=$$(caffe_build/pick_python.sh) || exit 2; fi; \
	command -v "$$python" >/dev/null || { echo "make: $$python not found (set PYTHON= to an installed interpreter)"; exit 2; }; \
	want=$$("$$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	if [ -x $(PY) ]; then have=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  [ "$$have" = "$$want" ] || { echo "make: $(VENV) holds Python $$have but the set-up needs $$want ($$python): remove $(VENV) (make clean) and run make again"; exit 2; }; \
	else echo "[venv] $(VENV) with $$python (Python $$want)"; "$$python" -m venv $(VENV) || exit 2; fi
	@$(PIP) download $(WHEELS_ONLY) -d $(WHEELHOUSE) -r requirements.txt setuptools wheel 2>/dev/null \
	  && $(PIP) download $(WHEELS_ONLY) -d $(WHEELHOUSE) --no-deps -r requirements-vot.txt 2>/dev/null \
	  || echo "[venv] PyPI not reachable, or a wheel is missing: installing from $(WHEELHOUSE) only"
	$(PIP) install $(WHEELS_ONLY) --no-index --find-links $(WHEELHOUSE) -r requirements.txt
	$(PIP) install $(WHEELS_ONLY) --no-index --find-links $(WHEELHOUSE) --no-deps -r requirements-vot.txt
	$(PY) caffe_build/patch_attributee.py $(PY)
	$(PIP) install --no-index --find-links $(WHEELHOUSE) --no-deps -e .
	@touch $@

venv: deps $(VENV)/.installed

caffe: venv
	$(PY) caffe_build/build_caffe.py --venv $(VENV) --jobs $(JOBS)

test: caffe lint
	$(PY) -m pytest -q tests

# The one linter, configured in ruff.toml (pinned in requirements.txt).
lint: venv
	$(VENV)/bin/ruff check .

demo: caffe
	$(PY) tools/demo.py $(ARGS)

train: caffe
	$(PY) tools/train.py $(ARGS)

bench: caffe
	$(PY) tools/benchmark.py all $(ARGS)

data: venv
	$(PY) data_prep/build_lmdb.py $(ARGS)

weights: caffe
	$(PY) tools/make_init_weights.py $(ARGS)

# After caffenet, --init-weights does what `make weights` does with the downloaded file.
model: caffe
	$(PY) tools/fetch_models.py --init-weights $(ARGS)

prototxt: caffe
	$(PY) -m goturn_caffe.model.netspec --write prototxt

eval: caffe
	$(PY) tools/eval_vot2014.py $(ARGS)

ablation: caffe
	$(PY) tools/ablation.py $(EXP) $(ARGS)

doctor: caffe
	$(PY) -m goturn_caffe.doctor

clean:
	rm -rf $(VENV) .pytest_cache output
