# meteo_forecast: every command a user or CI needs. `make help` lists them.
# The two commands of the README are `make run` and `make test`; both set everything up first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export METEO_FORECAST_DB ?= data/meteo.db
export METEO_FORECAST_REGISTRY ?= data/registry
# Optional inputs of the jobs: a day, a city, an Open-Meteo export file (instead of the archive API).
DATE ?= $(shell date -u -d tomorrow +%F)
LATITUDE ?= 48.8566
LONGITUDE ?= 2.3522
CITY ?= Paris
DATA_FILE ?=
UTC_OFFSET_SECONDS ?=
RETRAIN ?=
DAYS ?=
SOURCE ?=
TRAIN_END ?= $(shell date -u -d "$(DATE) - 1 day" +%F)
START ?=
END ?=
RETRAIN_EVERY ?= 7
# The many-cities job: a CSV of places (name, latitude, longitude[, data_file]), local workers or a Dask scheduler.
CITIES ?= cities.csv
WORKERS ?=
SCHEDULER ?=
# The benchmarks: an Open-Meteo file (default: the Paris samples), a test period, where the results go.
TEST_START ?= 2024-01-01
TEST_END ?= 2024-12-31
EXOG_FILE ?=
RESULTS ?= $(RUNS)/backtest_results.json
ISSUE_HOUR ?= 24
REPLAY_RESULTS ?= $(RUNS)/replay_$(or $(SOURCE),best_match)_$(ISSUE_HOUR)h.json
# The tuning job: the model (default: the production one), the trials, the validation period (the test period is TEST_START..TEST_END).
MODEL ?=
TRIALS ?= 12
VALIDATION_START ?= 2023-01-01
VALIDATION_END ?= 2023-12-31
SEED ?= 0
TUNE_RESULTS ?= $(RUNS)/tune_results.json
# Where the servers listen, and where executed job notebooks and monitoring plots go (both git-ignored).
HOST ?= 127.0.0.1
API_PORT ?= 8000
DATASETTE_PORT ?= 8001
RUNS ?= runs
MONITORING ?= data/monitoring
CITY_SLUG = $(shell printf '%s' "$(CITY)" | tr -c 'A-Za-z0-9_-' '_')
JOB_PARAMS = -p latitude $(LATITUDE) -p longitude $(LONGITUDE) -p city "$(CITY)" $(if $(DATA_FILE),-p data_file "$(DATA_FILE)") \
	$(if $(UTC_OFFSET_SECONDS),-p utc_offset_seconds $(UTC_OFFSET_SECONDS)) $(if $(SOURCE),-p source $(SOURCE))

.PHONY: help setup run test test-fast lint check-clean nbdev-test pytest ingest readme constraints clean \
	predict train backfill cities backtest replay tune scale monitor api datasette serve

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): settings.ini setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.2
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned dependencies

run: $(STAMP) predict serve  ## set up, forecast DATE into the database (DATA_FILE optional), serve the API and Datasette

ingest: $(STAMP)  ## store observations up to DATE-1 (from the archive API, or DATA_FILE)
	$(BIN)/meteo_ingest "$(DATE)" --latitude $(LATITUDE) --longitude $(LONGITUDE) \
		--city "$(CITY)" $(if $(DATA_FILE),--data_file "$(DATA_FILE)")

predict: $(STAMP)  ## forecast DATE (default tomorrow, UTC): papermill nbs/predict.ipynb (DATA_FILE, DAYS, RETRAIN=False optional) -> runs/
	@mkdir -p $(RUNS)
	@$(if $(DATA_FILE),true,$(BIN)/meteo_check_archive --latitude $(LATITUDE) --longitude $(LONGITUDE))
	$(BIN)/papermill nbs/predict.ipynb $(RUNS)/predict-$(DATE)-$(CITY_SLUG).ipynb -p date $(DATE) $(JOB_PARAMS) \
		$(if $(RETRAIN),-p retrain $(RETRAIN)) $(if $(DAYS),-p days $(DAYS))

train: $(STAMP)  ## train on the data up to TRAIN_END (default DATE-1): papermill nbs/train.ipynb -> runs/
	@mkdir -p $(RUNS)
	$(BIN)/papermill nbs/train.ipynb $(RUNS)/train-$(TRAIN_END)-$(CITY_SLUG).ipynb -p train_end $(TRAIN_END) $(JOB_PARAMS)

backfill: $(STAMP)  ## forecast every day START..END (retraining every RETRAIN_EVERY days; DATA_FILE optional)
	$(BIN)/meteo_backfill --start "$(START)" --end "$(END)" --latitude $(LATITUDE) --longitude $(LONGITUDE) \
		--city "$(CITY)" --retrain_every $(RETRAIN_EVERY) $(if $(DATA_FILE),--data_file "$(DATA_FILE)")

backtest: $(STAMP)  ## benchmark every model day-ahead over TEST_START..TEST_END (DATA_FILE, EXOG_FILE optional) -> RESULTS
	@mkdir -p $(RUNS)
	$(BIN)/papermill --log-output nbs/backtest.ipynb $(RUNS)/backtest-$(TEST_START)-$(TEST_END).ipynb -p test_start $(TEST_START) \
		-p test_end $(TEST_END) -p results_path "$(RESULTS)" $(if $(DATA_FILE),-p data_file "$(DATA_FILE)") \
		$(if $(EXOG_FILE),-p exog_file "$(EXOG_FILE)")

replay: $(STAMP)  ## live benchmark: replay START..END (default 2024) day by day as the daily job (ISSUE_HOUR, SOURCE, RETRAIN_EVERY) -> REPLAY_RESULTS
	@mkdir -p $(RUNS)
	$(BIN)/papermill nbs/replay.ipynb $(RUNS)/replay-$(or $(SOURCE),best_match)-$(ISSUE_HOUR)h.ipynb -p start $(or $(START),2024-01-01) \
		-p end $(or $(END),2024-12-31) -p issue_hour $(ISSUE_HOUR) -p source $(or $(SOURCE),best_match) \
		-p retrain_every $(RETRAIN_EVERY) -p results_path "$(REPLAY_RESULTS)" $(if $(DATA_FILE),-p data_file "$(DATA_FILE)") \
		$(if $(EXOG_FILE),-p exog_file "$(EXOG_FILE)")

tune: $(STAMP)  ## search the hyper-parameters of MODEL (default the production one) with Optuna: TRIALS on VALIDATION_START..END, checked on TEST_START..END (DATA_FILE, EXOG_FILE optional) -> TUNE_RESULTS
	@mkdir -p $(RUNS)
	$(BIN)/papermill --log-output nbs/tune.ipynb $(RUNS)/tune-$(or $(MODEL),default)-$(VALIDATION_START)-$(TEST_END).ipynb \
		-p trials $(TRIALS) -p validation_start $(VALIDATION_START) -p validation_end $(VALIDATION_END) -p test_start $(TEST_START) \
		-p test_end $(TEST_END) -p seed $(SEED) -p results_path "$(TUNE_RESULTS)" $(if $(MODEL),-p model $(MODEL)) \
		$(if $(DATA_FILE),-p data_file "$(DATA_FILE)") $(if $(EXOG_FILE),-p exog_file "$(EXOG_FILE)")
	@cat "$(TUNE_RESULTS)"; echo

cities: $(STAMP)  ## forecast DATE (default tomorrow) .. END for every city of CITIES (a CSV) in parallel on Dask (WORKERS, SCHEDULER optional)
	@mkdir -p $(RUNS)
	$(BIN)/papermill nbs/cities.ipynb $(RUNS)/cities-$(DATE).ipynb -p cities "$(CITIES)" -p start $(DATE) $(if $(END),-p end $(END)) \
		-p retrain_every $(RETRAIN_EVERY) $(if $(WORKERS),-p workers $(WORKERS)) $(if $(SCHEDULER),-p scheduler $(SCHEDULER)) \
		$(if $(SOURCE),-p source $(SOURCE))

scale: $(STAMP)  ## storage and serving benchmark: SCALE_CITIES x SCALE_YEARS (default 50 x 10, curve 1,10) on SCALE_BACKEND (sqlite, postgresql) -> runs/
	@mkdir -p $(RUNS)
	$(BIN)/papermill nbs/scale.ipynb $(RUNS)/scale-$(or $(SCALE_BACKEND),sqlite).ipynb -p cities $(or $(SCALE_CITIES),50) \
		-p years $(or $(SCALE_YEARS),10) -p backend $(or $(SCALE_BACKEND),sqlite) \
		-p results_path $(RUNS)/scale_results_$(or $(SCALE_BACKEND),sqlite).json

monitor: $(STAMP)  ## plot forecasts vs observations (START..END, default the last 90 days), flag drift and stale data
	$(BIN)/meteo_monitor --output "$(MONITORING)" $(if $(START),--start $(START)) $(if $(END),--end $(END))

api: $(STAMP)  ## serve the REST API on http://HOST:API_PORT (docs at /docs)
	$(BIN)/uvicorn api.main:app --host $(HOST) --port $(API_PORT)

datasette: $(STAMP)  ## serve the Datasette explorer on http://HOST:DATASETTE_PORT (read-only; a PostgreSQL database is served from a snapshot)
	PATH="$(CURDIR)/$(BIN):$$PATH" api/datasette/serve.sh "$(METEO_FORECAST_DB)" --host $(HOST) --port $(DATASETTE_PORT)

serve: $(STAMP)  ## serve the API and Datasette together over the same database (Ctrl-C stops both)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/serve.sh "$(METEO_FORECAST_DB)" $(HOST) $(API_PORT) $(DATASETTE_PORT)

test: $(STAMP) check-clean lint nbdev-test pytest  ## set up, then run every check and test (what CI runs)

check-clean: $(STAMP)  ## fail if nbdev_clean or nbdev_export would change a file
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/check_nbdev.sh

lint: $(STAMP)  ## lint the package, the API entry point and the tests (ruff), the Dockerfile (hadolint), the workflows (actionlint, zizmor), the Kubernetes manifests (kubernetes-validate)
	$(BIN)/ruff check meteo_forecast api tests scripts
	$(BIN)/hadolint Dockerfile
	$(BIN)/actionlint
	$(BIN)/zizmor --offline --persona pedantic .github/workflows
	$(BIN)/kubernetes-validate --strict --quiet $(filter-out %/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))

nbdev-test: $(STAMP)  ## run the notebooks (the library's unit tests), two at a time, one thread each
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing

pytest: $(STAMP)  ## integration, API, job and fault tests, on two workers (the tests of one shared database on one)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations 15 tests

test-fast: $(STAMP) lint  ## the edit-run loop: lint, the notebooks (but the three that run whole jobs) and the fast tests
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --skip_file_re '^(12_jobs|17_monitoring|18_cities|[_.])'
	$(BIN)/python -m pytest -q -n 2 -m "not integration" tests

readme: $(STAMP)  ## regenerate README.md from nbs/index.ipynb (no network, no Quarto)
	$(BIN)/python scripts/make_readme.py

constraints: $(STAMP)  ## regenerate constraints.txt from the installed environment
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact versions of every package the project installs (direct pins live in settings.ini).\n# Regenerate after changing a pin: make constraints' > constraints.txt

clean:  ## remove the environment and generated data
	rm -rf $(VENV) data runs _docs _proc
