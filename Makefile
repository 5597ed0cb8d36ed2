# casavi-bridge — the two commands a newcomer types are `make run` and `make test`.
#
#   make run                      demo on the built-in sandboxes (no configuration needed)
#   make run CONFIG=/etc/casavi-bridge/config.toml   the daemon with your configuration
#   make test                     installs everything the tests need, then runs the whole suite
#
# Everything is installed into ./.venv; the test target also installs the Debian packages
# the tests use (systemd's analyzer, a real Redmine server) when they are missing.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
CONFIG ?=
PYTEST_ARGS ?=

.PHONY: run test install install-test system-deps bench clean

$(BIN)/casavi-bridge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# The test tools (pytest, hypothesis, playwright, ...) only for the targets that use them.
$(VENV)/.test-installed: $(BIN)/casavi-bridge
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/casavi-bridge

install-test: $(VENV)/.test-installed

run: install
ifeq ($(strip $(CONFIG)),)
	$(BIN)/casavi-bridge demo
else
	$(BIN)/casavi-bridge run --config $(CONFIG)
endif

system-deps:
	bash tests/system-deps.sh

test: install-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
