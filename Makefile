# cococtl: the two Quick start commands are `make demo` and `make test`.
# Both work from a clean clone on a fresh Debian/Ubuntu machine with Python >= 3.11 (root or sudo).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint typecheck pytest bench completions system-deps peers clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "cococtl needs Python >= 3.11 (PYTHON=$(PYTHON))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }

# The demo needs only cococtl itself; the test suite needs every extra and the development tools.
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -q -e . 2>&1 | grep -v 'is ignored' || true
	$(BIN)/python -c 'import cococtl.cli'
	touch $@

$(STAMP): $(DEMO_STAMP)
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -q -e '.[test,all]' 2>&1 | grep -v 'is ignored' || true
	$(BIN)/python -c 'import cococtl.cli, pytest, hypothesis, mypy'
	touch $@

system-deps:
	@bash scripts/install-system-deps.sh

# Our small Go/Rust programs that link the upstream libraries (tests/peers/*), cached in .tools/peers.
peers:
	@bash scripts/build-peers.sh

demo: $(DEMO_STAMP)
	@bash scripts/demo.sh

test: $(STAMP) system-deps peers lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check cococtl tests benchmarks
	$(BIN)/ruff format --check cococtl tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$$PATH" $(BIN)/pytest -q

# Each benchmark pairs cococtl with its yardstick in alternation and prints a table, the per-pair ratios
# (median [min-max]) and one JSON line; each takes a few minutes at most. Bigger runs: --size, --pairs.
# bench_image needs .tools/bin/skopeo-go (scripts/install-skopeo-go.sh); bench_run needs curl and openssl.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_file_crypto.py
	$(BIN)/python benchmarks/bench_image.py
	$(BIN)/python benchmarks/bench_run.py
	$(BIN)/python benchmarks/bench_kbs.py

completions: $(STAMP)
	$(BIN)/python -m cococtl.cli.completion

# Regenerate the checked-in protobuf/gRPC modules in cococtl/protos/ from the .proto files there (see its
# README.md). Needs grpcio-tools, installed here at the pinned version; `make test` does not depend on it.
GRPCIO_TOOLS_VERSION := 1.85.1
.PHONY: protos
protos: $(STAMP)
	$(BIN)/python -m pip install -q 'grpcio-tools==$(GRPCIO_TOOLS_VERSION)'
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. cococtl/protos/*.proto

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis
