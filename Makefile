# Set-up and everyday targets; every one works on a fresh Debian machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Where `make demo` / `make viewer` put their store; empty: a new temporary directory, made
# by the recipe itself (a $(shell mktemp) here would make one at every make invocation).
DEMO_DIR ?=
VIEWER_DIR ?=

.PHONY: fuzz soak torture demo demo-remote test quick lint fmt testdata clean qa-autosave screenshots viewer bench bench-compare loudness-table

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change, so a second run is fast.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

testdata/out/.stamp: testdata/make_bundles.py testdata/make_drum_machine.py testdata/make_loudness_clips.py | $(STAMP)
	$(PY) testdata/make_bundles.py testdata/out
	touch $@

testdata: testdata/out/.stamp

demo: $(STAMP) testdata/out/.stamp
	@bash scripts/demo.sh "$(DEMO_DIR)"

# Push the demo to a SeaweedFS started on 127.0.0.1 (free ports), clone it into another store,
# export both and compare byte for byte; the server is stopped at the end (docs/remotes.md).
demo-remote: $(STAMP) testdata/out/.stamp
	@bash scripts/demo_remote.sh "$(DEMO_DIR)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict casstore

test: lint testdata/out/.stamp
	$(PY) -m pytest

# The edit-test loop: lint, then every test but the slow tier (crash points, fuzzing, soak,
# multi-process stress), about half of make test's time. make test (and CI) runs them all.
quick: lint testdata/out/.stamp
	$(PY) -m pytest -m "not slow" -q

# Every crash point of every mutating command, failed and cut by a power loss (docs/durability.md).
torture: $(STAMP) testdata/out/.stamp
	CASSTORE_TORTURE_STRIDE=1 $(PY) -m pytest tests/test_torture.py tests/test_faults.py -s -q -p no:cacheprovider

# Importers, autosavers, a gc loop and a long-lived reader on one store, 20 rounds (docs/soak.md).
SOAK_ROUNDS ?= 20
soak: $(STAMP) testdata/out/.stamp
	CASSTORE_SOAK_ROUNDS=$(SOAK_ROUNDS) $(PY) -m pytest tests/test_soak.py tests/test_hostile_fs.py -s -q -p no:cacheprovider

# Every fuzz target at FUZZ_EXAMPLES cases each: 8 targets x 1,250 = 10,000 cases (docs/fuzzing.md).
FUZZ_EXAMPLES ?= 1250
fuzz: $(STAMP) testdata/out/.stamp
	CASSTORE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/test_fuzz.py -q -p no:cacheprovider

# A real stress-harness run against the choir demo, kept in docs/qa/autosave/.
qa-autosave: $(STAMP) testdata/out/.stamp
	@bash scripts/qa_autosave.sh

# The viewer on the demo store (three autosaves newer than the head, a workdir with an unsaved edit).
viewer: $(STAMP) testdata/out/.stamp
	@dir="$(VIEWER_DIR)"; dir="$${dir:-$$(mktemp -d -t casstore-viewer.XXXXXX)}"; \
	echo "viewer store: $$dir/store, working directory: $$dir/work"; \
	$(PY) testdata/make_viewer_store.py "$$dir/store" "$$dir/work" && \
	$(VENV)/bin/casstore-viewer --store "$$dir/store" --workdir "$$dir/work" \
		--sampler-manifest testdata/out/sampler_s3_manifest.json

# Real screenshots of the real app for the README (under Xvfb when there is no display).
screenshots: $(STAMP) testdata/out/.stamp
	@bash scripts/screenshots.sh

# casstore, ffmpeg's ebur128 and pyloudnorm on every testdata clip: the table in docs/loudness.md.
loudness-table: $(STAMP) testdata/out/.stamp
	$(PY) scripts/loudness_table.py testdata/out docs/loudness.md

# casstore against git, restic and borg (installed from Debian by bench/setup.sh).
BENCH_PRESET ?= medium
BENCH_RUNS ?= 3
bench: $(STAMP)
	bash bench/setup.sh
	$(PY) bench/run.py --preset $(BENCH_PRESET) --runs $(BENCH_RUNS)

# This checkout against an earlier commit (BENCH_BASE), alternating runs: bench/results/compare-<preset>.md.
BENCH_BASE ?= HEAD~1
bench-compare: $(STAMP)
	bash bench/compare.sh "$(BENCH_BASE)" "$(BENCH_PRESET)" "$(BENCH_RUNS)"

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) testdata/out .pytest_cache .hypothesis
