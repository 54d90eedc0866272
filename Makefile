# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLUSTER_STAMP := $(VENV)/.cluster-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint format migrate seed clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --no-input

seed: migrate
	$(BIN)/python manage.py seed_demo

## Start the app on its embedded defaults (SQLite, in-process layer, emails in var/emails).
run: seed
	@echo "Open http://$(HOST):$(PORT)/ and log in as alice, bob, carol or david (password: voisins-demo)."
	$(BIN)/python scripts/run_local.py --host $(HOST) --port $(PORT)

## Run the whole test suite (servers that are missing are skipped with a reason;
## REQUIRE_SERVICES=1, as in .ci/run, turns those skips into failures).
test: $(STAMP) node-modules
	$(BIN)/python -m pytest
	$(BIN)/python scripts/with_postgres.py $(BIN)/python -m pytest tests/unit tests/integration -p no:cacheprovider
	@if [ -d tests/js ]; then \
		if command -v node >/dev/null; then node --test tests/js/*.test.mjs; \
		elif [ "$$REQUIRE_SERVICES" = 1 ]; then echo "FAILED: Node.js is required for tests/js"; exit 1; \
		else echo "SKIPPED: client module tests (tests/js): Node.js is not installed"; fi; \
	fi

## Test-only JavaScript tools (package-lock.json: axe-core for the browser
## tests' accessibility checks, fake-indexeddb for tests/js), from the npm
## registry only: no install scripts, no browser download.
.PHONY: node-modules
node-modules:
	@if command -v npm >/dev/null; then npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; \
	elif [ "$$REQUIRE_SERVICES" = 1 ]; then echo "FAILED: npm is required (package-lock.json)"; exit 1; \
	else echo "SKIPPED: npm ci: npm is not installed (accessibility and outbox tests will skip)"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles node_modules .pytest_cache .mypy_cache .ruff_cache

## Load benchmark: the project against the Channels tutorial design and a bare
## websockets relay (bench/README.md). BENCH_QUICK=1: about 3 minutes;
## BENCH_IDLE_SOCKETS=5000 for the issue's idle-socket target; BENCH_REV=HEAD
## measures a commit instead of a snapshot of the working tree;
## BENCH_ONLY=production runs that section only (embedded, redis_postgres,
## production; space-separated for several).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(filter 1,$(BENCH_QUICK)),--quick) \
		$(if $(BENCH_IDLE_SOCKETS),--idle-sockets $(BENCH_IDLE_SOCKETS)) \
		$(if $(BENCH_REV),--rev $(BENCH_REV)) \
		$(foreach section,$(BENCH_ONLY),--only $(section))

## Search latency on PostgreSQL with a million messages, EXPLAIN output
## included (bench/README.md, "Search"): a few minutes; not part of `make test`.
.PHONY: bench-search
bench-search: $(STAMP)
	$(BIN)/python -m bench.search

## The garbage-collection policy (chatsite/collector.py) with and without
## freezing, same run: 2,000 sockets on one process, pauses and latency
## (bench/README.md, "Garbage collection"): about 10 minutes.
.PHONY: bench-gc
bench-gc: $(STAMP)
	$(BIN)/python -m bench.gc_pauses

## Fault, abuse and security scenarios, slow ones included (about 5 minutes);
## then rewrite the figures section of docs/reliability.md.
.PHONY: reliability
reliability: $(STAMP)
	rm -f test-output/reliability.json
	RELIABILITY=1 $(BIN)/python -m pytest tests/reliability -p no:cacheprovider \
		tests/notifications/test_faults.py::test_a_trickling_push_endpoint_holds_up_no_other_notification
	$(BIN)/python scripts/reliability_report.py

## The production shape under faults (tests/cluster/, docs/reliability.md
## "Cluster"): hosts in network namespaces behind HAProxy, as root. Needs
## Debian's haproxy, iptables and libnetfilter-queue-dev. `make test` runs
## the short version; this runs the long one (about 8 minutes) and rewrites
## the Cluster figures of docs/reliability.md.
.PHONY: cluster-deps cluster-test
$(CLUSTER_STAMP): $(STAMP) requirements-cluster.txt
	$(BIN)/pip install --quiet -r requirements-cluster.txt
	touch $(CLUSTER_STAMP)

cluster-deps: $(CLUSTER_STAMP)

cluster-test: $(CLUSTER_STAMP)
	rm -f test-output/cluster.json
	CLUSTER_LONG=1 $(BIN)/python -m pytest tests/cluster -p no:cacheprovider
	$(BIN)/python scripts/cluster_report.py
