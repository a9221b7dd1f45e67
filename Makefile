# Two commands for a newcomer: `make run` and `make test`. Everything else is setup.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export PORT

.PHONY: run test setup lint typecheck bench clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

## Set up, migrate, load the demo shops (first run only) and serve web + worker on
## 127.0.0.1:$(PORT) until Ctrl-C. DATABASE_URL=postgres://... selects PostgreSQL.
run: $(STAMP)
	$(BIN)/suivi run --demo --port $(PORT)

## Set up and run the whole test suite (SQLite unless DATABASE_URL says otherwise).
test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src bench scripts
	$(BIN)/ruff format --check src bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python bench/orders.py --quick
	$(BIN)/python bench/notifications.py --quick
	$(BIN)/python bench/ingest.py --quick
	$(BIN)/python bench/tracking_page.py --quick
	$(BIN)/python bench/backoffice.py --quick

clean:
	rm -rf $(VENV) var build *.egg-info src/*.egg-info
