# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv on first use. torch is installed first, pinned to the CPU build 2.13.0,
# so the package's own range is already satisfied and pip pulls no CUDA wheels.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean train-default train-keyvid experiment-kshot experiment-curation \
	experiment-window experiment-features

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/asva animate

test: $(STAMP)
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/pytest -q

# The bundled model (src/asva/assets/models/tiny): data, curation, the four stages, install.
# Resumes after a kill; time on 2 CPU cores in docs/results.md.
train-default: $(STAMP)
	ASVA=$(BIN)/asva scripts/train_default.sh

# The bundled tiny KeyVID model (src/asva/assets/models/tiny-keyvid), on train-default's data and
# frozen backbone: keyframe generator, then motion interpolator (docs/keyvid.md). Resumes after a kill.
train-keyvid: $(STAMP)
	ASVA=$(BIN)/asva scripts/train_keyvid.sh

# The papers' experiments in SynthAV (docs/experiments.md): from generated data to a table and a plot
# in runs/experiments/<name>/. train-default's run folder is the common start (built if missing);
# each target resumes after a kill. JOBS tasks at a time (one thread each).
JOBS ?= 2
experiment-kshot experiment-curation experiment-window experiment-features: experiment-%: $(STAMP)
	test -f runs/default/pretrain/model/asva.json || ASVA=$(BIN)/asva scripts/train_default.sh
	OMP_NUM_THREADS=1 $(BIN)/asva experiment $* --jobs $(JOBS)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) asva_out.mp4 asva_out.png
