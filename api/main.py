"""Entry point of the REST API: `uvicorn api.main:app` (run from the root of the checkout).

The one place that builds the application at import time. The application and its documentation live in
`nbs/13_api_schemas.ipynb` … `nbs/16_api.ipynb` (package `meteo_forecast.api`). It serves the SQLite
database of `METEO_FORECAST_DB` (default `data/meteo.db`), read-only, and logs one line per request
through the standard `logging` module (level `METEO_FORECAST_LOG_LEVEL`).
"""
from meteo_forecast.api import create_app
from meteo_forecast.config import setup_logging

setup_logging()
app = create_app()
