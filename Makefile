# Two commands do all the set-up on a fresh machine:
#   make run    — install (once) and run the bot with the settings in .env
#   make test   — install (once) and run the whole test suite (tests/unit, tests/integration, tests/e2e)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo simulator compiled test test-fast test-browser lint check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ddm-restore-bot run

demo: $(STAMP)
	$(BIN)/ddm-restore-bot playground

simulator: $(STAMP)
	$(BIN)/ddm-restore-bot simulator --port 9000

# One test process per core and one more (pytest-xdist): much of an end-to-end test waits on a process or a
# socket, so a core is left idle with one per core (2 cores: 190 s with 2 workers, 140 s with 3, 150 s with 4).
# `pytest path/to/test_x.py` alone runs in one process, as usual.
PARALLEL := -n $(shell expr $$(nproc) + 1) --dist worksteal

# The bot's modules compiled once, up front: where PYTHONDONTWRITEBYTECODE is set (as on CI machines), each process
# a test starts from scratch (the CLI and start-up tests, each worker's zygote) would compile them again (0.4 s each).
compiled: $(STAMP)
	$(BIN)/python -m compileall -q bot

test: compiled
	$(BIN)/python -m pytest $(PARALLEL)

# The unit layer only (no database, no process): seconds, for the edit-test loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL) tests/unit

# The browser test (tests/browser) drives the playground page in headless Chromium (/usr/bin/chromium).
test-browser: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[browser]'
	$(BIN)/python -m pytest tests/browser -m browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot

check: $(STAMP)
	$(BIN)/ddm-restore-bot check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
