# The two commands of README.md: `make up` (install + run) and `make test` (install + every test).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
AS_EXAMPLES := pump/examples/assemblyscript
# the AssemblyScript compiler the control plane runs to build users' modules (pinned)
ASC_TOOLCHAIN := control_plane/modules/toolchain

.PHONY: install frontend wasm-examples up test lint typecheck pytest test-containers pump-image \
	frontend-test e2e clean

install: $(VENV)/.installed $(ASC_TOOLCHAIN)/node_modules/.package-lock.json

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(ASC_TOOLCHAIN)/node_modules/.package-lock.json: $(ASC_TOOLCHAIN)/package-lock.json
	npm --prefix $(ASC_TOOLCHAIN) ci --no-audit --no-fund

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	npm --prefix frontend ci --no-audit --no-fund

frontend: frontend/node_modules/.package-lock.json
	npm --prefix frontend run build

$(AS_EXAMPLES)/node_modules/.package-lock.json: $(AS_EXAMPLES)/package-lock.json
	npm --prefix $(AS_EXAMPLES) ci --no-audit --no-fund

wasm-examples: $(AS_EXAMPLES)/node_modules/.package-lock.json
	npm --prefix $(AS_EXAMPLES) run build

up: install frontend
	$(BIN)/flowplane up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The tests run with a Docker engine and the pump image at hand (infra/docker-engine.sh starts a
# private dockerd when none answers and builds the image, both cached); tests/containers is
# skipped with the reason when no engine can be had.
DOCKER_RUN := PYTHON=$(abspath $(BIN)/python) infra/docker-engine.sh run

# Three workers, each taking whole files (module fixtures are set up once); most tests wait on
# processes and servers, so three keep two cores busy.
PYTEST_WORKERS ?= 3

pytest: install wasm-examples
	$(DOCKER_RUN) $(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile \
		--durations=15

test-containers: install wasm-examples
	$(DOCKER_RUN) $(BIN)/pytest -q -p no:cacheprovider tests/containers

pump-image: install
	PYTHON=$(abspath $(BIN)/python) infra/pump-image.sh flowplane/pump:latest

frontend-test: frontend
	npm --prefix frontend run test

e2e: install frontend
	npm --prefix frontend run test:e2e

test: lint typecheck pytest frontend-test e2e

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist $(AS_EXAMPLES)/node_modules pump/examples/build
	rm -rf $(ASC_TOOLCHAIN)/node_modules
