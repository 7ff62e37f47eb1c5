# The operator's entry points. Each target bootstraps .venv first (again whenever
# pyproject.toml changes), so a fresh clone needs nothing but python3 >= 3.11.

PYTHON ?= python3
VENV := .venv
SEED ?= seeds/demo.yaml
DURATION ?= 120
# The suite mostly waits (consumer groups joining, retries, crash and restart): two workers,
# each with its own broker and PostgreSQL, halve its time; a file stays on one worker.
TEST_WORKERS ?= 2

.PHONY: venv run test demo docs bench chaos

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

run: venv
	$(VENV)/bin/alliance run --seed $(SEED)

test: venv
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

demo: venv
	$(VENV)/bin/python -m demo --duration $(DURATION)

docs: venv
	$(VENV)/bin/python -m shared.docs

bench: venv
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

chaos: venv
	$(VENV)/bin/python -m chaos
