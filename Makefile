# The operator's entry points. Each target bootstraps .venv first (again whenever
# pyproject.toml or requirements.lock changes), so a fresh clone needs nothing but python3 >= 3.11.

PYTHON ?= python3
VENV := .venv
SEED ?= seeds/demo.yaml
DURATION ?= 120
# The suite mostly waits (consumer groups joining, retries, crash and restart): two workers,
# each with its own broker and PostgreSQL, halve its time; a file stays on one worker.
TEST_WORKERS ?= 2

.PHONY: venv lock run test test-kafka demo docs bench chaos fuzz

venv: $(VENV)/.installed

# Exactly the locked versions, hash-checked, nothing resolved; then the project itself, built
# with the locked setuptools.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Refreshes requirements.lock from pyproject.toml (runtime, the test and lock extras, the build
# backend) for every Python >= 3.11 and platform, keeping the pins that still fit; with
# UPGRADE=--upgrade, the newest versions that do.
lock: venv
	$(VENV)/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(VENV)/bin/uv pip compile pyproject.toml - --extra test --extra lock --universal \
			--python-version 3.11 --generate-hashes --quiet $(UPGRADE) -o requirements.lock

run: venv
	$(VENV)/bin/alliance run --seed $(SEED)

test: venv
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The integration, end-to-end and quick chaos tiers once more, on Apache Kafka (KRaft, the
# compose image's version, from Maven Central into .alliance/kafka once): needs a JDK and Maven.
# Tests that start `alliance run` on the embedded broker whatever the backend are `make test`'s.
EMBEDDED_ONLY := tests/e2e/test_demo.py tests/e2e/test_ops_dashboards.py tests/e2e/test_admin_api_fuzz.py
test-kafka: venv
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
		echo "make test-kafka needs a JDK 17+ and Maven: apt-get install openjdk-17-jre-headless maven" >&2; exit 2; }
	ALLIANCE_TEST_BACKEND=kafka $(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "integration or e2e" \
		$(foreach file,$(EMBEDDED_ONLY),--deselect $(file))

demo: venv
	$(VENV)/bin/python -m demo --duration $(DURATION)

docs: venv
	$(VENV)/bin/python -m shared.docs

bench: venv
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

# CHAOS_ARGS="--broker kafka": on Apache Kafka, three brokers, one of them lost under load
chaos: venv
	$(VENV)/bin/python -m chaos $(CHAOS_ARGS)

# schemathesis against the admin APIs of a fresh platform: FUZZ_SECONDS per service, a random
# seed unless FUZZ_SEED is given (`make test` runs it briefly with a fixed one).
FUZZ_SECONDS ?= 300
fuzz: venv
	$(VENV)/bin/python -m fuzz --seconds $(FUZZ_SECONDS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))
