# vpump: every target installs what it needs first, so on a fresh machine
# `make demo` and `make test` are the only commands a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := protocol firmware_model emulator programmer_gui bench
export QT_QPA_PLATFORM ?= offscreen

.PHONY: help install test check pytest-fast lint typecheck imports pytest wheel-check kaitai bench demo screenshots report robot soak docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create ./.venv and install vpump with its dev tools (idempotent)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict on the packages and the tests (pyproject [tool.mypy] packages)
	$(BIN)/mypy

imports: $(STAMP)  ## import-linter: the one-way rule between packages
	$(BIN)/lint-imports

pytest: $(STAMP)  ## the test suite (offscreen Qt, two workers)
	$(BIN)/python scripts/kaitai.py --install
	$(BIN)/pytest -n 2 -q

# Bytecode caches on for the test runs, even where the environment turns them off
# (PYTHONDONTWRITEBYTECODE=1): without them every pytest worker, and every pump-emulator
# subprocess a test starts, compiles (and pytest assertion-rewrites) every module again,
# about 6 s of CPU a process. __pycache__/ is ignored by git.
pytest pytest-fast: export PYTHONDONTWRITEBYTECODE :=

pytest-fast: $(STAMP)  ## the test suite less the tests marked slow (SIGKILLs, long property runs)
	$(BIN)/pytest -n 2 -q -m "not slow"

check: lint typecheck imports pytest-fast  ## the developer's inner loop: make test less the slow tests and the wheel check

wheel-check: $(STAMP)  ## build the wheel, install it in a fresh venv outside the checkout, run the tools
	bash scripts/wheel-check.sh $(BIN)/python

test: lint typecheck imports pytest wheel-check  ## everything CI runs

bench: $(STAMP)  ## benchmarks: figures beside their floors, written to bench/results.json
	$(BIN)/python -m bench

soak: $(STAMP)  ## long reliability runs: fuzzing (1M inputs per target), a multi-year soak, 300 SIGKILLs, the issue-13 attacks
	$(BIN)/python -m tests.hardening.fuzz
	$(BIN)/python -m tests.hardening.soak
	$(BIN)/python -m tests.hardening.crash
	$(BIN)/python -m tests.hardening.soak13

docs: $(STAMP)  ## regenerate docs/protocol.md, the dissector, the .ksy (and tshark's tree in docs/wireshark.md)
	$(BIN)/python -m protocol.docgen > docs/protocol.md
	$(BIN)/python -m protocol.dissector > protocol/data/vpump.lua
	$(BIN)/python -m protocol.kaitai > protocol/data/vpump.ksy
	$(BIN)/python scripts/wireshark_docs.py

kaitai: $(STAMP)  ## parsers in C#, Java, C++ and JavaScript from protocol/data/vpump.ksy, into build/kaitai/
	$(BIN)/python scripts/kaitai.py build/kaitai csharp java cpp_stl javascript

demo: $(STAMP)  ## the programmer on the demo pump (without a display: a headless demonstration + screenshots)
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  env -u QT_QPA_PLATFORM $(BIN)/pump-programmer --demo; \
	else \
	  echo "vpump: no display (DISPLAY and WAYLAND_DISPLAY are unset): running the headless demonstration,"; \
	  echo "       then rendering the programmer's screens offscreen into docs/screenshots/"; \
	  $(BIN)/python -m emulator.demo && $(MAKE) --no-print-directory screenshots; \
	fi

screenshots: $(STAMP)  ## render every programmer screen offscreen into docs/screenshots/
	$(BIN)/python -m programmer_gui.screenshots docs/screenshots
	$(BIN)/python -m programmer_gui.demo.mri_screenshots docs/screenshots

report: $(STAMP)  ## run the scenario library with an HTML and a JUnit report (reports/)
	mkdir -p reports
	$(BIN)/pytest examples/scenarios -n 2 -q --junitxml=reports/scenarios.xml \
	  --html=reports/scenarios.html --self-contained-html
	@echo "vpump: report in reports/scenarios.html (JUnit XML: reports/scenarios.xml)"

robot: $(STAMP)  ## the Robot Framework suite in examples/robot/ (log.html and report.html in reports/robot/)
	$(BIN)/robot --outputdir reports/robot examples/robot

clean:  ## remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .cache
