# aurio: `make run` to use it, `make test` to test it.
VENV := .venv
PY := $(VENV)/bin/python
DATA := $(or $(AURIO_DATA_DIR),data)

.PHONY: run serve venv dev-venv test lint typecheck bench clean dev down

$(VENV)/.installed: requirements.txt
	test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.dev-installed

$(DATA)/secret-key: | venv
	mkdir -p $(DATA) && umask 077 && $(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

# Install, migrate, make the first recruiter if there is none, then serve on
# :8000 with the worker and sweep beside it (scripts/serve restarts them if they
# die; it stops all when the web server stops or on Ctrl-C).
# (manage.py finds the generated key in data/secret-key by itself.)
run: venv $(DATA)/secret-key
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py ensure_recruiter
	VENV=$(VENV) scripts/serve

# The whole suite on SQLite, on MongoDB when AURIO_TEST_MONGO_URL names a server,
# then on PostgreSQL. PostgreSQL and Redis are started first if none answers:
# the fault tests use them in every run.
POSTGRES_TEST_URL ?= postgres://postgres:postgres@127.0.0.1:5432/aurio

test: dev-venv lint typecheck
	scripts/install-test-deps
	scripts/ensure-redis
	scripts/ensure-postgres
	$(PY) -m pytest
	@if [ -n "$$AURIO_TEST_MONGO_URL" ]; then DATABASE_URL="$$AURIO_TEST_MONGO_URL" $(PY) -m pytest; \
	else echo "MongoDB: AURIO_TEST_MONGO_URL is not set, so the suite does not run against MongoDB."; fi
	DATABASE_URL=$(POSTGRES_TEST_URL) $(PY) -m pytest

lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: dev-venv
	SECRET_KEY=typecheck $(VENV)/bin/mypy .

bench: dev-venv
	$(PY) bench/run.py
	$(PY) bench/processing.py

clean:
	rm -rf $(VENV) staticfiles

# The compose stack (web, worker, sweep, PostgreSQL, Redis; add COMPOSE_PROFILES=s3,mongo).
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
dev:
	$(COMPOSE) up --build -d
	@echo "aurio: http://localhost:8000/admin/  (make a recruiter: $(COMPOSE) exec web python manage.py ensure_recruiter)"

down:
	$(COMPOSE) down
