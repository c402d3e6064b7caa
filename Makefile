# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11 and make needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-hosts install migrate lint format bench bench-full flake clean

$(STAMP): requirements/base.txt requirements/production.txt requirements/local.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (looked for $(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/local.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py ensure_demo_user
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py runstack

test: install
	$(PY) -m tests $(PYTEST_ARGS)

# Many hosts on one machine (network namespaces; root): tests/hosts. Says "skipped" where it can't.
test-hosts: install
	$(PY) -m tests.hosts

# The timing-dependent tests N times (LOAD=1: beside one busy process per core); pass/fail per test.
flake: install
	$(PY) -m tests.flake -n $(or $(N),5) $(if $(filter 1 true yes,$(LOAD)),--load) $(TESTS)

# ruff (style, complexity, imports inside functions) and import-linter (the layers, .importlinter).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m tests.bench

bench-full: install
	$(PY) -m tests.bench --full

clean:
	rm -rf var/test-* staticfiles
