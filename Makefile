# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU machines take torch 2.13.0 from local disk; set CONSTRAINTS= for a CUDA install (see README).
CONSTRAINTS ?= constraints-cpu.txt
DEMO_DIR ?= demo
BENCH_CACHE ?= $(HOME)/.cache/moodscape-bench

.PHONY: venv demo test bench-features bench-train bench-gan bench-inference bench-intervals clean

$(BIN)/moodscape: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[dev]'
	touch $@

venv: $(BIN)/moodscape

demo: venv
	bash scripts/demo.sh $(BIN) $(DEMO_DIR)

test: venv
	$(BIN)/python -m pytest

bench-features: venv
	$(BIN)/python benchmarks/features.py --cache $(BENCH_CACHE) --deam-size

bench-train: venv
	$(BIN)/python benchmarks/train.py

bench-gan: venv
	$(BIN)/python benchmarks/gan.py

bench-intervals: venv
	$(BIN)/python benchmarks/intervals.py

bench-inference: venv
	$(BIN)/python benchmarks/inference.py --cache $(BENCH_CACHE)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
