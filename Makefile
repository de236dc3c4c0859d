# Two commands for a fresh machine: `make demo` runs the recommendations example on the
# embedded broker; `make test` runs the test suite. Each builds its own virtualenv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test check format-check bench bench-quick kafka oracle venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/python examples/recommendations/demo.py

test: venv
	$(BIN)/python -m pytest tests

# Lint and types, with the versions pinned in pyproject's `dev` extra (.ci/run runs this
# before the tests).
$(BIN)/.dev-installed: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $@

check: $(BIN)/.dev-installed
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy streamz_kit tests/dsl/typing_sample.py

format-check: $(BIN)/.dev-installed
	$(BIN)/ruff format --check

# The long differential campaign against Kafka Streams' own TopologyTestDriver (tests/oracle):
# ORACLE_EXAMPLES cases per scenario, seeded; ORACLE_PENDING=1 adds scenarios with a known
# difference being fixed. `make test` runs the same tests on a small derandomized budget.
ORACLE_EXAMPLES ?= 2000
ORACLE_SEED ?= 1
oracle: venv
	ORACLE_EXAMPLES=$(ORACLE_EXAMPLES) ORACLE_SEED=$(ORACLE_SEED) ORACLE_PROGRESS=1 \
		$(BIN)/python -m pytest tests/oracle -p no:cacheprovider -s --timeout 0

# A real Apache Kafka broker (one KRaft node, jars from Maven Central) on a free loopback port,
# until Ctrl-C; KAFKA_PORT=9092 make kafka to choose the port. docs/kafka.md.
kafka: venv
	$(BIN)/python -m interop.kafka_broker

# The full comparison (embedded log + real Kafka; Kafka Streams, Quix Streams, Faust), ~15 min;
# bench-quick is the smoke test's tiny run (< 2 min). docs/benchmarks.md.
bench: venv
	$(BIN)/python bench/run.py

bench-quick: venv
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) .streamz build *.egg-info
