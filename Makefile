# meteo_forecast: every command a user or CI needs. `make help` lists them.
# The two commands of the README are `make run` and `make test`; both set everything up first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export METEO_FORECAST_DB ?= data/meteo.db
export METEO_FORECAST_REGISTRY ?= data/registry
# Optional inputs of `make run` / `make ingest`: a day, a city, an Open-Meteo export file.
DATE ?= $(shell date -u +%F)
LATITUDE ?= 48.8566
LONGITUDE ?= 2.3522
CITY ?= Paris
DATA_FILE ?=

.PHONY: help setup run test lint check-clean nbdev-test pytest ingest readme constraints clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): settings.ini setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.2
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned dependencies

run: $(STAMP) ingest  ## set up, then bring the city's observations into the database

ingest: $(STAMP)  ## store observations up to DATE-1 (from the archive API, or DATA_FILE)
	$(BIN)/meteo_ingest --date "$(DATE)" --latitude $(LATITUDE) --longitude $(LONGITUDE) \
		--city "$(CITY)" $(if $(DATA_FILE),--data-file "$(DATA_FILE)")

test: $(STAMP) check-clean lint nbdev-test pytest  ## set up, then run every check and test (what CI runs)

check-clean: $(STAMP)  ## fail if nbdev_clean or nbdev_export would change a file
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/check_nbdev.sh

lint: $(STAMP)  ## lint the Dockerfile (hadolint) and the GitHub workflows (actionlint, zizmor)
	$(BIN)/hadolint Dockerfile
	$(BIN)/actionlint
	$(BIN)/zizmor --offline --persona pedantic .github/workflows

nbdev-test: $(STAMP)  ## run the notebooks (the library's unit tests)
	$(BIN)/nbdev_test --n_workers 2 --timing

pytest: $(STAMP)  ## integration, API, job and fault tests
	$(BIN)/python -m pytest -q tests

readme: $(STAMP)  ## regenerate README.md from nbs/index.ipynb (no network, no Quarto)
	$(BIN)/python scripts/make_readme.py

constraints: $(STAMP)  ## regenerate constraints.txt from the installed environment
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact versions of every package the project installs (direct pins live in settings.ini).\n# Regenerate after changing a pin: make constraints' > constraints.txt

clean:  ## remove the environment and generated data
	rm -rf $(VENV) data runs _docs _proc
