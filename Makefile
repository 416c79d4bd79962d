# Two commands on a fresh clone: `make audit` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch, installed first where torch is absent; GPU users install their own.
TORCH_CPU ?= torch==2.13.0

# `make audit` options: DATA_FILES=path/to/test.jsonl.gz reads a local copy instead of the hub.
DATASET ?= hh-rlhf
SUBSET ?= helpful-base
LIMIT ?= 100
DATA_FILES ?=
OUT ?= audit-$(DATASET)-$(SUBSET)

.PHONY: audit test install install-test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_CPU)"
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

audit: $(VENV)/.installed
	$(BIN)/typicality inspect $(DATASET) --subset $(SUBSET) --limit $(LIMIT) $(if $(DATA_FILES),--data-files $(DATA_FILES))

# pytest exits 5 when it collects no test; make treats that as a failure, so CI never passes on nothing.
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
