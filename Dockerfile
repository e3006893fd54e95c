# syntax=docker/dockerfile:1
# meteo_forecast: one image for the REST API (default command), the papermill batch jobs and Datasette; and, as the
# target mlflow-server, the MLflow tracking server (and its UI) that many machines log to.
# Build: docker build --build-arg APP_VERSION="$(git rev-parse HEAD)" -t meteo_forecast .
#        docker build --target mlflow-server -t meteo_forecast-mlflow .
# The database, the MLflow store and the model files live on the /data volume, never in the image.

# The MLflow tracking server: the full mlflow package (its UI) and the PostgreSQL driver of its backend store. The jobs'
# image below has only mlflow-skinny, the client (12_jobs says what each weighs).
FROM python:3.11.13-slim-bookworm AS mlflow-server
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /mlflow
COPY constraints.txt ./
RUN pip install -c constraints.txt mlflow==3.17.2 "psycopg[binary]==3.2.13" \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin mlflow \
 && mkdir -p /artifacts && chown mlflow:mlflow /artifacts
USER mlflow
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4).status == 200 else 1)"]
# The backend store (MLFLOW_BACKEND_STORE_URI: a database of its own on the PostgreSQL server,
# postgresql+psycopg://mlflow:PASSWORD@postgres:5432/mlflow) and the artifacts (a volume at /artifacts) are the server's;
# the workers send both over HTTP (MLFLOW_TRACKING_URI=http://mlflow:5000). Host headers other than the service's name
# are refused (MLFLOW_ALLOWED_HOSTS: add the public name behind a reverse proxy).
CMD ["sh", "-c", "exec mlflow server --backend-store-uri \"${MLFLOW_BACKEND_STORE_URI:-sqlite:////artifacts/mlflow.db}\" --artifacts-destination /artifacts --serve-artifacts --host 0.0.0.0 --port 5000 --allowed-hosts \"${MLFLOW_ALLOWED_HOSTS:-mlflow,mlflow:*,localhost:*,127.0.0.1:*}\""]

# The application: the API, the jobs and Datasette.
FROM python:3.11.13-slim-bookworm AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    METEO_FORECAST_DB=/data/meteo.db \
    METEO_FORECAST_REGISTRY=/data/registry

WORKDIR /app

# 1. Dependencies, from the pins alone: this layer is rebuilt only when settings.ini or
#    constraints.txt change, not when the code does.
COPY settings.ini constraints.txt ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('settings.ini'); print('\n'.join(c['DEFAULT']['requirements'].split()))" > requirements.txt \
 && pip install -r requirements.txt -c constraints.txt

# 2. The code: the package exported from the notebooks, the API entry point, the job notebooks.
COPY setup.py pyproject.toml README.md ./
COPY meteo_forecast ./meteo_forecast
COPY api ./api
COPY nbs ./nbs
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin meteo \
 && mkdir -p /data/runs /data/registry \
 && chown -R meteo:meteo /data

# 3. The commit id, last, so a new commit does not invalidate the layers above.
ARG APP_VERSION=0.0.0
ENV APP_VERSION=${APP_VERSION}
LABEL org.opencontainers.image.title="meteo_forecast" \
      org.opencontainers.image.description="Day-ahead 3-hourly temperature forecasts: FastAPI, papermill jobs, Datasette" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${APP_VERSION}"

USER meteo
VOLUME ["/data"]
EXPOSE 8000 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
