# The two commands that matter: `make bot` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install bot build test test-fast lint format bench gpu-pack clean

# torch goes in first, pinned to the CPU build on this disk, by pip, which looks there (uv would
# fetch a multi-GB CUDA build); not compiled: only exporting and training import it (compiling
# took 18 s of the install, importing it uncompiled costs 1.7 s more, 2026-11-27). uv installs
# the rest: 19 s here where pip took 60. Compiled at install, as pip does: where
# PYTHONDONTWRITEBYTECODE is set (this machine), every process would otherwise compile its
# imports again (1.8 s a start).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile torch==2.13.0 uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

bot: install
	$(PY) -m bot

build: install
	$(PY) -m index build

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# ruff first; the type checker (about 30 s cold) runs beside the suite, on the other core,
# and its verdict is printed after it. pytest exits 5 when a selection holds no test: that is
# not a failure of the suite.
test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	@typed=$$(mktemp); $(PY) -m mypy > $$typed 2>&1 & checker=$$!; \
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && status=0; \
	wait $$checker; checked=$$?; cat $$typed; rm -f $$typed; \
	[ $$checked -eq 0 ] || status=1; exit $$status

# The quick tier for working: unit and simcord tests (no separate processes, no eval sets, no
# torch: the models run from their kept ONNX files).
test-fast: install
	$(PY) -m pytest -m "unit or simcord" $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

# What a training run on a lent GPU machine takes along (index/reader/weights/MODEL_CARD.md):
# the wheels it lacks (for its Python 3.12), the slim base model, SQuAD, the hard examples.
GPU_WHEELS := pysbd python-dotenv beautifulsoup4 soupsieve
gpu-pack: install
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		-d data/gpu-wheels $(GPU_WHEELS)
	$(PY) -m index.training.reader pack data/gpu --data ../shared/squad/train.jsonl.gz --wheels \
		data/gpu-wheels $(if $(wildcard data/reader/hard.jsonl.gz),--hard data/reader/hard.jsonl.gz)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
