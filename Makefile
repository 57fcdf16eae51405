# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU install's lock (every package pinned; torch 2.13.0 comes from local disk); `make lock` refreshes it.
# Set CONSTRAINTS= for a CUDA install (see README).
CONSTRAINTS ?= constraints-cpu.txt
DEMO_DIR ?= demo
BENCH_CACHE ?= $(HOME)/.cache/moodscape-bench
# Test processes (pytest-xdist); the demo-run tests stay together on one of them.
TEST_WORKERS ?= 2
FOURQ ?= ../shared/data/4q-dev
HOLDOUT ?= ../shared/data/4q-holdout

.PHONY: venv lock convert-musicnn demo test bench-predict bench-features bench-train bench-gan bench-inference bench-serve bench-scale bench-intervals bench-quality default-model clean

$(BIN)/moodscape: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) --upgrade pip
	$(BIN)/pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[dev]'
	touch $@

venv: $(BIN)/moodscape

# Refresh the lock on purpose: pyproject.toml's ranges resolved afresh (the newest releases they allow) in a
# throwaway environment, every installed version written to constraints-cpu.txt. Then run make test.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet torch==2.13.0 -e '.[dev]'
	.lock-venv/bin/python scripts/write_lock.py constraints-cpu.txt
	rm -rf .lock-venv

# Convert musicnn's TensorFlow checkpoints into src/moodscape/pretrained and write the parity fixture, once,
# in a throwaway environment with TensorFlow (never a dependency of moodscape itself).
convert-musicnn:
	rm -rf .convert-venv
	$(PYTHON) -m venv .convert-venv
	.convert-venv/bin/pip install --quiet --upgrade pip
	.convert-venv/bin/pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e .
	.convert-venv/bin/pip install --quiet tensorflow-cpu==2.21.0 tf-keras==2.21.0
	.convert-venv/bin/pip install --quiet --no-deps musicnn==0.1.0
	.convert-venv/bin/python scripts/convert_musicnn.py
	rm -rf .convert-venv

demo: venv
	bash scripts/demo.sh $(BIN) $(DEMO_DIR)

test: venv
	bash scripts/install-chromium.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

bench-features: venv
	$(BIN)/python benchmarks/features.py --cache $(BENCH_CACHE) --deam-size --clips $(FOURQ)

bench-train: venv
	$(BIN)/python benchmarks/train.py

bench-gan: venv
	$(BIN)/python benchmarks/gan.py

bench-intervals: venv
	$(BIN)/python benchmarks/intervals.py

# Cross-validation on 4q-dev; the shippable profile also trained on all of 4q-dev as it ships and scored on 4q-holdout.
bench-quality: venv
	$(BIN)/python benchmarks/quality.py --data $(FOURQ) --holdout $(HOLDOUT) --work $(BENCH_CACHE)/quality --out benchmarks/quality-results.json

# The model shipped in src/moodscape/default_model: bench-quality's recipe trained on 4q-dev + 4q-holdout (720 clips);
# its card quotes bench-quality's cross-validation and holdout rows.
default-model: venv
	STORES="$(wildcard $(BENCH_CACHE)/quality/features/*) $(wildcard $(BENCH_CACHE)/quality/ship/*/features/*)" \
	  bash scripts/default_model.sh $(BIN) runs/default-model benchmarks/quality-results.json $(FOURQ) $(HOLDOUT)

bench-predict: venv .vibenet-venv/bin/vibenet
	$(BIN)/python benchmarks/predict.py --clips $(FOURQ)

# vibenet, the CPU tool `bench-predict` compares with, in an environment of its own.
.vibenet-venv/bin/vibenet:
	rm -rf .vibenet-venv
	$(PYTHON) -m venv .vibenet-venv
	.vibenet-venv/bin/pip install --quiet vibenet==0.1.0

bench-serve: venv
	$(BIN)/python benchmarks/serve.py --clips $(FOURQ)

bench-scale: venv
	$(BIN)/python benchmarks/scale.py --clips $(FOURQ)

bench-inference: venv
	$(BIN)/python benchmarks/inference.py --cache $(BENCH_CACHE) --clips $(FOURQ)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
