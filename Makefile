# meteo_forecast: every command a user or CI needs. `make help` lists them.
# The two commands of the README are `make run` and `make test`; both set everything up first.

## PYTHON: the Python (3.11 or later) that creates .venv
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every variable a command takes is documented by a `## NAME: what` line above it: `make help` lists them with their values.
## METEO_FORECAST_DB: the database, a SQLite file or a postgresql:// URL
export METEO_FORECAST_DB ?= data/meteo.db
## METEO_FORECAST_REGISTRY: the folder of trained model files
export METEO_FORECAST_REGISTRY ?= data/registry
# The jobs' inputs: a day, a place, an Open-Meteo file (instead of the archive API).
## DATE: the (first) day to forecast, YYYY-MM-DD, UTC; default tomorrow
DATE ?= $(shell date -u -d tomorrow +%F)
## DAYS: days to forecast from DATE (predict; empty: 1)
DAYS ?=
## LATITUDE: latitude of the place, degrees north (with LONGITUDE; empty: Paris, or DATA_FILE's own place)
LATITUDE ?=
## LONGITUDE: longitude of the place, degrees east
LONGITUDE ?=
## CITY: the place's name, as stored and served (empty: Paris, DATA_FILE's name, or the coordinates)
CITY ?=
## DATA_FILE: an Open-Meteo CSV export or JSON answer to read instead of the archive API (offline)
DATA_FILE ?=
## UTC_OFFSET_SECONDS: UTC offset of the times of a DATA_FILE without metadata, seconds (empty: 0)
UTC_OFFSET_SECONDS ?=
## SOURCE: the archive's source: best_match (empty: fresh, every 6 h) or era5_seamless (5 days behind)
SOURCE ?=
## HISTORY_DAYS: days of history to download and train on (empty: 3650, ten years)
HISTORY_DAYS ?=
## RETRAIN: predict: False forecasts with the slot's champion, auto trains only if the slot was not trained on the freshest data (empty: train a candidate and offer it to the gate)
RETRAIN ?=
## MODEL: predict, train: the algorithm to train, e.g. persistence (empty: the city's candidates); tune: the model tuned (empty: the production one)
MODEL ?=
## TRAIN_END: train: the last day to train on (default DATE - 1)
TRAIN_END ?= $(shell date -u -d "$(DATE) - 1 day" +%F)
## START: backfill, replay, monitor: the first day (replay: empty is 2024-01-01; monitor: 90 days before END)
START ?=
## END: backfill, replay, cities, monitor: the last day, inclusive (replay: empty is 2024-12-31; cities: DATE; monitor: the last day with forecasts)
END ?=
## RETRAIN_EVERY: backfill, replay, cities: retrain when the latest model is this many days old
RETRAIN_EVERY ?= 7
# The many-cities job: a CSV of places (name, latitude, longitude[, data_file]), local workers or a Dask scheduler.
## CITIES: cities: a CSV list of places (name, latitude, longitude[, data_file])
CITIES ?= cities.csv
## WORKERS: cities: worker processes of the local Dask cluster (empty: one per core)
WORKERS ?=
## SCHEDULER: cities: the address of a running Dask scheduler, tcp://host:8786 (empty: a local cluster)
SCHEDULER ?=
## DEADLINE_HOURS: cities: hours the first downloads may wait for the archive's call budget (empty: the job's default)
DEADLINE_HOURS ?=
# The benchmarks: an Open-Meteo file (default: the Paris samples), a test period, where the results go.
## TEST_START: backtest: the first day of the test period
TEST_START ?= 2024-01-01
## TEST_END: backtest: the last day of the test period
TEST_END ?= 2024-12-31
## EXOG_FILE: backtest, replay: an Open-Meteo file of the weather variables (empty: the Paris one)
EXOG_FILE ?=
## RESULTS: backtest: where its JSON results go
RESULTS ?= $(RUNS)/backtest_results.json
## ISSUE_HOUR: replay: the hour (UTC) of the day before each day when its forecast is issued; 24 is 00:00 of the day
ISSUE_HOUR ?= 24
## REPLAY_RESULTS: replay: where its JSON results go
REPLAY_RESULTS ?= $(RUNS)/replay_$(or $(SOURCE),best_match)_$(ISSUE_HOUR)h.json
## SCALE_CITIES: scale: the number of cities stored (each the Paris history under other coordinates)
SCALE_CITIES ?= 50
## SCALE_YEARS: scale: years of hourly data per city
SCALE_YEARS ?= 10
## SCALE_BACKEND: scale: sqlite or postgresql
SCALE_BACKEND ?= sqlite
# The tuning job: MODEL (empty: the production algorithm), the trials, the validation period (the test period is TEST_START..TEST_END).
## TRIALS: tune: the Optuna trials
TRIALS ?= 12
## VALIDATION_START: tune: the first day of the validation period
VALIDATION_START ?= 2023-01-01
## VALIDATION_END: tune: the last day of the validation period
VALIDATION_END ?= 2023-12-31
## SEED: tune: the seed of the search
SEED ?= 0
## TUNE_RESULTS: tune: where its JSON results go
TUNE_RESULTS ?= $(RUNS)/tune_results.json
# Where the servers listen, and where executed job notebooks, server logs and monitoring output go (git-ignored).
## HOST: the address the API and Datasette listen on
HOST ?= 127.0.0.1
## API_PORT: the REST API's port
API_PORT ?= 8000
## DATASETTE_PORT: Datasette's port
DATASETTE_PORT ?= 8001
## MLFLOW_PORT: the MLflow UI's port (make mlflow)
MLFLOW_PORT ?= 5000
# The model lifecycle: a production slot's gap (hours), the version to promote, why (recorded with the transition).
## GAP: models, promote, rollback: the slot's gap in hours (empty: the place's only slot)
GAP ?=
## VERSION: promote: the version to make champion (empty: the challenger)
VERSION ?=
## REASON: promote, rollback: why, recorded with the transition
REASON ?=
## RUNS: the folder of executed job notebooks, their logs and the servers' logs
RUNS ?= runs
## MONITORING: monitor: the folder of its plots and JSON reports
MONITORING ?= data/monitoring
HELP_VARIABLES = $(shell sed -n 's/^## \([A-Z_]*\): .*/\1/p' $(firstword $(MAKEFILE_LIST)))
PLACE = $(if $(LATITUDE),-p latitude $(LATITUDE)) $(if $(LONGITUDE),-p longitude $(LONGITUDE)) $(if $(CITY),-p city "$(CITY)")
JOB_PARAMS = $(PLACE) $(if $(DATA_FILE),-p data_file "$(DATA_FILE)") $(if $(UTC_OFFSET_SECONDS),-p utc_offset_seconds $(UTC_OFFSET_SECONDS)) \
	$(if $(SOURCE),-p source $(SOURCE)) $(if $(HISTORY_DAYS),-p history_days $(HISTORY_DAYS)) $(if $(MODEL),-p model $(MODEL))

.PHONY: help setup run test test-fast lint check-clean nbdev-test pytest ingest readme constraints clean \
	predict train backfill cities backtest replay tune scale monitor api datasette serve mlflow models promote rollback

help:  ## list the commands and the variables they take
	@echo "Commands (make COMMAND [NAME=value ...]):"
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | sed 's/:[^#]*## /\t/' | awk -F'\t' '{ printf "  %-12s %s\n", $$1, $$2 }'
	@echo; echo "Variables (NAME=value after the command, or in the environment), with their values now:"
	@$(foreach v,$(HELP_VARIABLES),printf '  %-36s ' '$(v)=$($(v))'; sed -n 's/^## $(v): //p' $(firstword $(MAKEFILE_LIST));)

$(STAMP): settings.ini setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.2
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned dependencies

run: $(STAMP) predict serve  ## set up, forecast DATE into the database (DATA_FILE, LATITUDE, LONGITUDE, CITY optional), serve the API and Datasette

ingest: $(STAMP)  ## store observations up to DATE-1 (from the archive API, or DATA_FILE)
	$(BIN)/meteo_ingest "$(DATE)" $(if $(LATITUDE),--latitude $(LATITUDE)) $(if $(LONGITUDE),--longitude $(LONGITUDE)) \
		$(if $(CITY),--city "$(CITY)") $(if $(DATA_FILE),--data_file "$(DATA_FILE)") $(if $(HISTORY_DAYS),--history_days $(HISTORY_DAYS)) \
		$(if $(UTC_OFFSET_SECONDS),--utc_offset_seconds $(UTC_OFFSET_SECONDS))

predict: $(STAMP)  ## forecast DATE (default tomorrow, UTC) for a place, print the forecasts: nbs/predict.ipynb -> RUNS
	@$(if $(DATA_FILE),true,$(BIN)/meteo_check_archive $(if $(LATITUDE),--latitude $(LATITUDE)) $(if $(LONGITUDE),--longitude $(LONGITUDE)))
	@$(BIN)/meteo_job predict --runs "$(RUNS)" -p date $(DATE) $(JOB_PARAMS) $(if $(RETRAIN),-p retrain $(RETRAIN)) $(if $(DAYS),-p days $(DAYS))

train: $(STAMP)  ## train on the data up to TRAIN_END (default DATE-1), print the model: nbs/train.ipynb -> RUNS
	@$(BIN)/meteo_job train --runs "$(RUNS)" -p train_end $(TRAIN_END) $(JOB_PARAMS)

backfill: $(STAMP)  ## forecast every day START..END (retraining every RETRAIN_EVERY days; DATA_FILE optional)
	$(BIN)/meteo_backfill --start "$(START)" --end "$(END)" $(if $(LATITUDE),--latitude $(LATITUDE)) $(if $(LONGITUDE),--longitude $(LONGITUDE)) \
		$(if $(CITY),--city "$(CITY)") --retrain_every $(RETRAIN_EVERY) $(if $(DATA_FILE),--data_file "$(DATA_FILE)") \
		$(if $(SOURCE),--source $(SOURCE)) $(if $(HISTORY_DAYS),--history_days $(HISTORY_DAYS))

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

cities: $(STAMP)  ## forecast DATE (default tomorrow) .. END for every city of CITIES (a CSV) in parallel on Dask (WORKERS, SCHEDULER, DEADLINE_HOURS optional)
	@mkdir -p $(RUNS)
	$(BIN)/papermill nbs/cities.ipynb $(RUNS)/cities-$(DATE).ipynb -p cities "$(CITIES)" -p start $(DATE) $(if $(END),-p end $(END)) \
		-p retrain_every $(RETRAIN_EVERY) $(if $(WORKERS),-p workers $(WORKERS)) $(if $(SCHEDULER),-p scheduler $(SCHEDULER)) \
		$(if $(SOURCE),-p source $(SOURCE)) $(if $(DEADLINE_HOURS),-p deadline_hours $(DEADLINE_HOURS))

scale: $(STAMP)  ## storage and serving benchmark: SCALE_CITIES x SCALE_YEARS (default 50 x 10, curve 1,10) on SCALE_BACKEND (sqlite, postgresql) -> runs/
	@mkdir -p $(RUNS)
	$(BIN)/papermill nbs/scale.ipynb $(RUNS)/scale-$(SCALE_BACKEND).ipynb -p cities $(SCALE_CITIES) \
		-p years $(SCALE_YEARS) -p backend $(SCALE_BACKEND) -p results_path $(RUNS)/scale_results_$(SCALE_BACKEND).json

monitor: $(STAMP)  ## plot forecasts vs observations (START..END, default the last 90 days), flag drift and stale data -> MONITORING
	$(BIN)/meteo_monitor --output "$(MONITORING)" $(if $(START),--start $(START)) $(if $(END),--end $(END))

mlflow: $(STAMP)  ## serve the MLflow UI over the jobs' runs and registered models on http://HOST:MLFLOW_PORT (MLFLOW_TRACKING_URI, else the embedded store)
	@$(BIN)/meteo_mlflow --host $(HOST) --port $(MLFLOW_PORT) || [ $$? -eq 130 ]

models: $(STAMP)  ## the production slots of CITY (default Paris): versions and roles (champion, challenger, retired), transitions
	@$(BIN)/meteo_model status --city "$(or $(CITY),Paris)" $(if $(GAP),--gap $(GAP))
	@$(BIN)/meteo_model history --city "$(or $(CITY),Paris)" $(if $(GAP),--gap $(GAP))

promote: $(STAMP)  ## make VERSION (default: the challenger) the champion of CITY's slot (GAP, REASON)
	@$(BIN)/meteo_model promote --city "$(or $(CITY),Paris)" $(if $(GAP),--gap $(GAP)) $(if $(VERSION),--version $(VERSION)) \
		$(if $(REASON),--reason "$(REASON)")

rollback: $(STAMP)  ## give the champion of CITY's slot back to the version that served before it (GAP, REASON)
	@$(BIN)/meteo_model rollback --city "$(or $(CITY),Paris)" $(if $(GAP),--gap $(GAP)) $(if $(REASON),--reason "$(REASON)")

api: $(STAMP)  ## serve the REST API on http://HOST:API_PORT (docs at /docs)
	$(BIN)/uvicorn api.main:app --host $(HOST) --port $(API_PORT)

datasette: $(STAMP)  ## serve the Datasette explorer on http://HOST:DATASETTE_PORT (read-only; a PostgreSQL database is served from a snapshot)
	PATH="$(CURDIR)/$(BIN):$$PATH" api/datasette/serve.sh "$(METEO_FORECAST_DB)" --host $(HOST) --port $(DATASETTE_PORT)

serve: $(STAMP)  ## serve the API and Datasette together over the same database, their logs in RUNS (Ctrl-C stops both)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/serve.sh "$(METEO_FORECAST_DB)" $(HOST) $(API_PORT) $(DATASETTE_PORT) "$(RUNS)"

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

test-fast: $(STAMP) lint  ## the edit-run loop: lint, the notebooks (but the four that run whole jobs) and the fast tests
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --skip_file_re '^(12_jobs|12a_console|17_monitoring|18_cities|[_.])'
	$(BIN)/python -m pytest -q -n 2 -m "not integration" tests

readme: $(STAMP)  ## regenerate README.md from nbs/index.ipynb (no network, no Quarto)
	$(BIN)/python scripts/make_readme.py

constraints: $(STAMP)  ## regenerate constraints.txt from the installed environment
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact versions of every package the project installs (direct pins live in settings.ini).\n# Regenerate after changing a pin: make constraints' > constraints.txt

clean:  ## remove the environment and generated data
	rm -rf $(VENV) data runs _docs _proc
