"""Benchmark: the daily job for N cities on a local Dask cluster of 1 and of 2 workers (issue 13's 1.7x goal).

Every city is served the real Paris files under its own coordinates by the archive stand-in (this measures the
fan-out, not the forecasts of those places). The history is stored first, once, untimed (a first download of ten
years for ten cities is paced by the archive's call limits, 600 calls a minute, not by the workers); each timed run
then starts from a copy of that database with an empty registry: every city refreshes its last week from the
archive, trains its model (with its interval calibration) and forecasts the day, as the daily job does on a
retraining day. Prints the wall times, the speed-up and whether the two runs
stored identical forecasts, and writes them to a JSON file. With --backend postgresql the timed runs write to a
throwaway local PostgreSQL server (the copy of the stored history into it is untimed too).

usage: python scripts/bench_cities.py [--cities 10] [--day 2024-06-01] [--history_days 3650] [--backend sqlite|postgresql]
                                      [--output runs/bench_cities.json]
"""
import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from meteo_forecast.cities import City, run_cities
from meteo_forecast.config import Location, sample_path
from meteo_forecast.db import Database
from meteo_forecast.schema import connect
from meteo_forecast.snapshot import copy_database
from meteo_forecast.ingest import ingest_until
from meteo_forecast.openmeteo import ArchiveClient
from meteo_forecast.pgserver import LocalPostgreSQL
from meteo_forecast.standin import ArchiveStandIn


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--cities', type=int, default=10)
    ap.add_argument('--day', default='2024-06-01')
    ap.add_argument('--history_days', type=int, default=3650)
    ap.add_argument('--backend', choices=['sqlite', 'postgresql'], default='sqlite')
    ap.add_argument('--output', default='runs/bench_cities.json')
    args = ap.parse_args()
    server = LocalPostgreSQL().start() if args.backend == 'postgresql' else None
    si = ArchiveStandIn(sample_path('paris_2014-2024_temperature_2m.csv'), sample_path('paris_2020-2024_multivariate.csv'),
                        now=pd.Timestamp('2026-11-22 12:00', tz='UTC'))
    paris_grid, paris = si.places[0]
    cities = []
    for i in range(args.cities):   # one degree apart, beyond the stand-in's 0.5-degree matching distance
        lat, lon = 40.0 + i, -5.0 + i
        copy = paris.copy()
        copy.attrs['grid'] = {**paris_grid, 'latitude': lat, 'longitude': lon}
        si.add(copy)
        cities.append(City(Location(lat, lon, f'city{i:02d}')))
    si.start()
    os.environ['OPEN_METEO_ARCHIVE_URL'] = si.url
    os.environ.setdefault('METEO_FORECAST_LOG_LEVEL', 'WARNING')
    template = Path(tempfile.mkdtemp(prefix='bench_cities_')) / 'meteo.db'
    t0, day = time.perf_counter(), dt.date.fromisoformat(args.day)
    for city in cities: ingest_until(connect(template), city.location, day, args.history_days, client=ArchiveClient(si.url), progress=False)
    print(f"history of {args.cities} cities stored in {time.perf_counter() - t0:.1f} s (untimed below)", flush=True)
    results, stored = {}, {}
    for workers in (1, 2):
        folder = Path(tempfile.mkdtemp(prefix=f'bench_cities_{workers}_'))
        if server is None:
            database = str(folder / 'meteo.db')
            shutil.copy(template, database)
        else:
            database = server.create_database(f'bench_{workers}')
            copy_database(str(template), database)
        t0 = time.perf_counter()
        summary = run_cities(cities, args.day, args.day, history_days=args.history_days, workers=workers,
                             db=database, registry=folder / 'registry', progress=False)
        seconds = time.perf_counter() - t0
        assert (summary.status == 'succeeded').all(), summary[summary.status != 'succeeded'].to_dict('records')
        with Database(database) as db:
            stored[workers] = db.frame(
                "SELECT l.name, p.target_time, p.predicted, p.lower_80, p.upper_80, p.lower_95, p.upper_95 FROM predictions p "
                "JOIN locations l ON l.id = p.location_id ORDER BY l.name, p.target_time")
        results[workers] = round(seconds, 1)
        print(f"{args.cities} cities, {workers} worker(s): {seconds:.1f} s ({len(stored[workers])} forecasts)", flush=True)
    si.stop()
    if server: server.stop()
    identical = stored[1].equals(stored[2])
    out = {'cities': args.cities, 'day': args.day, 'history_days': args.history_days, 'backend': args.backend, 'seconds': results,
           'speedup': round(results[1] / results[2], 2), 'identical_forecasts': identical, 'cpu_count': os.cpu_count()}
    print(f"speed-up with 2 workers: {out['speedup']}x; identical forecasts: {identical}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
