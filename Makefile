# Two commands on a fresh clone: `make audit` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch, installed first where torch is absent; GPU users install their own.
TORCH_CPU ?= torch==2.13.0

# `make audit` options. With none, it audits the embedded HH-RLHF helpful-base test split in
# data/ (offline). DATA_FILES= (empty) reads the Hugging Face Hub's copy instead; DATASET=NAME
# (see `typicality datasets`) with DATA_FILES=PATH, or without it the hub, audits another source.
DATASET ?= hh-rlhf
ifeq ($(DATASET),hh-rlhf)
SUBSET ?= helpful-base
endif
ifeq ($(DATASET)/$(SUBSET),hh-rlhf/helpful-base)
DATA_FILES ?= data/hh-rlhf/helpful-base/test.jsonl.gz
endif
# Prompts sampled (seeded); LIMIT= (empty) audits every prompt.
LIMIT ?= 300
OUT ?= audit-$(DATASET)$(if $(SUBSET),-$(SUBSET))

.PHONY: audit test lint install install-test browser clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_CPU)"
	$(BIN)/pip install -e .
	touch $@

# llama.cpp (the `server` extra) is compiled for portable AVX2 rather than for the build
# machine's own CPU: a native build of llama-cpp-python 0.3.36 segfaults on this CPU's
# AVX-512/AMX paths at the first decode. --no-binary and --no-cache-dir keep pip from reusing a
# wheel built with other flags (pip keys its cache of built wheels by source, not by CMAKE_ARGS).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF

# The `ray` extra too, so that the Ray engine's tests (tests/scoring/test_ray_engine.py) run rather than skip.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --no-cache-dir --no-binary llama-cpp-python -e '.[test,server,ray]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Re-running resumes an interrupted audit of the same request (scores are cached); FORCE=1 replaces a finished one.
audit: $(VENV)/.installed
	$(BIN)/typicality audit $(DATASET) --out $(OUT) $(if $(SUBSET),--subset $(SUBSET)) \
		$(if $(LIMIT),--limit $(LIMIT)) $(if $(DATA_FILES),--data-files $(DATA_FILES)) $(if $(FORCE),--force)

# The report's browser test (tests/report/test_browser.py) opens report.html in headless Chromium.
# Installed here when absent and we are root with apt (CI, containers); otherwise that one test
# skips and says why. Install Debian's `chromium` package yourself to run it as a normal user.
browser:
	@if command -v chromium >/dev/null 2>&1; then \
		echo "browser: $$(command -v chromium) is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "browser: chromium is absent and cannot be installed here (needs root and apt-get); the browser test will skip"; \
	fi

# pytest exits 5 when it collects no test; make treats that as a failure, so CI never passes on nothing.
test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest

# The code's own rules: ruff (pyflakes, import order, line length) and the import layers
# ([tool.importlinter] in pyproject.toml). `make test` runs both too (tests/test_code_layout.py).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Benchmarks (benchmarks/README.md): the endpoint's requests/s, a cached audit on 10,000 simulated pairs,
# tokens/s and memory at BENCH_PAIRS vs BENCH_LARGE pairs, then the scorer against the naive loop and
# lm-evaluation-harness on BENCH_PAIRS real HH-RLHF pairs (needs ../shared/data). About 10 minutes on 2 quiet cores.
# The last lines are speedup_vs_naive=, speedup_vs_lm_eval= and matmul_fraction=.
BENCH_PAIRS ?= 40
BENCH_LARGE ?= 400
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_endpoint.py
	$(BIN)/python benchmarks/bench_cached_audit.py
	$(BIN)/python benchmarks/bench_growth.py --small $(BENCH_PAIRS) --large $(BENCH_LARGE)
	$(BIN)/python benchmarks/bench_scoring.py --pairs $(BENCH_PAIRS)

clean:
	rm -rf $(VENV) .pytest_cache
