# CXSurvey — the two commands for a fresh machine are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The embedded defaults: SQLite in the project, mail to the console, no Redis, no broker.
DEV_ENV := DEBUG=$${DEBUG:-true}

.PHONY: run test lint bench venv

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: venv
	$(DEV_ENV) $(BIN)/python manage.py migrate --no-input
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	@# The embedded default runs the periodic tasks (invitations, webhooks, clean-ups) in a loop
	@# beside the web server, not in Celery.
	$(DEV_ENV) $(BIN)/python manage.py runtasks & trap 'kill $$!' EXIT INT TERM; \
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

test: venv
	$(DEV_ENV) $(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# The type checker's Django plugin loads the settings, which need DEBUG or a SECRET_KEY.
	DEBUG=true $(BIN)/mypy
	@# No container engine is needed: the image's Dockerfile is linted, not built.
	$(BIN)/hadolint deploy/Dockerfile

# Every benchmark in turn against the local PostgreSQL, then one table of their figures; it fails
# when a figure falls short of its target.
BENCHES := dispatch dashboard first_dashboard export retention erasure load answer faults drill insights_terms import_delighted
bench: venv
	$(BIN)/pip install --quiet -r bench/requirements.txt
	@results=$$(mktemp); trap 'rm -f $$results' EXIT; \
	for bench in $(BENCHES); do \
	  DEBUG=true BENCH_RESULTS=$$results $(BIN)/python bench/$$bench.py || exit 1; \
	done; \
	$(BIN)/python bench/summary.py $$results
