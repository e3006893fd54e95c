"""Open-Meteo files in the shapes people keep them, built from the real ones: each imports to the same observations as
the untouched file, through the import the jobs use; units converted, time zones applied, the location from the job."""
import json
import os
import subprocess
import time

import pandas as pd
import pytest

from meteo_forecast.config import Location, sample_path
from meteo_forecast.db import hourly_observations
from meteo_forecast.schema import connect
from meteo_forecast.ingest import import_file
from meteo_forecast.openmeteo import OpenMeteoError, read_export

from conftest import PARIS_MULTI, ROOT, job_env, run_job

CENTRE = Location(46.0105, 2.0, 'Centre')
EXPORT = 'centre-france_2024-2025_export.csv'


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "The observations the untouched export stores."
    db = connect(tmp_path_factory.mktemp('reference') / 'm.db')
    report = import_file(db, sample_path(EXPORT), CENTRE)
    return hourly_observations(db, report['location_id'])


def table(path) -> pd.DataFrame:
    "The hourly table of the export, as pandas reads its CSV part (times as text, the header with units)."
    lines = sample_path(path).read_text(encoding='utf-8').splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith('time,'))
    import io
    return pd.read_csv(io.StringIO('\n'.join(lines[at:])), dtype=str)


def stored(path, **kw) -> pd.DataFrame:
    db = connect(path.parent / f'{path.stem}.db')
    report = import_file(db, path, CENTRE, **kw)
    assert report['rejected'] == 0, report['rejected_examples']
    return hourly_observations(db, report['location_id'])


def test_a_csv_export_without_its_metadata_lines(tmp_path, reference):
    t = table(EXPORT)
    t.to_csv(tmp_path / 'bare.csv', index=False)   # `time,temperature_2m (°C),...`: units kept in the headers
    pd.testing.assert_frame_equal(stored(tmp_path / 'bare.csv'), reference)


def test_a_pandas_resave_of_a_json_answer_csv_and_json(tmp_path, reference):
    t = table(EXPORT)
    t.columns = [c.split(' (')[0] for c in t.columns]                                   # no units
    t['time'] = pd.to_datetime(t.time).dt.strftime('%Y-%m-%d %H:%M:%S')                 # pandas' own time format
    t = t.rename(columns={'relative_humidity_2m': 'relativehumidity_2m', 'wind_speed_10m': 'windspeed_10m'})   # legacy names
    t.to_csv(tmp_path / 'resaved.csv')                                                 # with its index column
    t.to_json(tmp_path / 'records.json', orient='records')
    t.to_json(tmp_path / 'columns.json')
    for f in ('resaved.csv', 'records.json', 'columns.json'):
        pd.testing.assert_frame_equal(stored(tmp_path / f), reference, check_dtype=False, obj=f)


def test_a_file_in_local_time_with_the_offset_or_the_time_zone_given(tmp_path, reference):
    t = table(EXPORT)
    t['time'] = (pd.to_datetime(t.time) + pd.Timedelta(hours=1)).dt.strftime('%Y-%m-%dT%H:%M')   # UTC+1, as Paris in winter
    t.to_csv(tmp_path / 'local.csv', index=False)
    pd.testing.assert_frame_equal(stored(tmp_path / 'local.csv', utc_offset_seconds=3600), reference)
    (tmp_path / 'as_gmt.csv').write_bytes((tmp_path / 'local.csv').read_bytes())
    shifted = stored(tmp_path / 'as_gmt.csv')   # without the offset: GMT assumed (and logged), so an hour late
    assert shifted.index[0] == reference.index[0] + pd.Timedelta(hours=1)
    with pytest.raises(ValueError, match='unknown time zone'):
        import_file(connect(tmp_path / 'x.db'), tmp_path / 'local.csv', CENTRE, timezone='Mars/Olympus')


def test_units_the_api_can_return_are_converted_and_others_refused(tmp_path, reference):
    t = table(EXPORT)
    f = lambda c: t[c].astype(float)
    t['temperature_2m (°C)'] = f('temperature_2m (°C)') * 9 / 5 + 32
    t['wind_speed_10m (km/h)'] = f('wind_speed_10m (km/h)') / 1.609344
    t['precipitation (mm)'] = f('precipitation (mm)') / 25.4
    t = t.rename(columns={'temperature_2m (°C)': 'temperature_2m (°F)', 'wind_speed_10m (km/h)': 'wind_speed_10m (mp/h)',
                          'precipitation (mm)': 'precipitation (inch)'})
    t.to_csv(tmp_path / 'imperial.csv', index=False)
    pd.testing.assert_frame_equal(stored(tmp_path / 'imperial.csv'), reference, check_exact=False, atol=1e-9)
    t.rename(columns={'temperature_2m (°F)': 'temperature_2m (K)'}).to_csv(tmp_path / 'kelvin.csv', index=False)
    with pytest.raises(OpenMeteoError, match="temperature_2m is in 'K'"):
        read_export(tmp_path / 'kelvin.csv')


@pytest.mark.integration
def test_the_predict_job_reads_a_resaved_file_in_local_time(tmp_path):
    "The job notebook with `-p data_file` and `-p utc_offset_seconds`, as an operator runs it."
    t = table(PARIS_MULTI)
    t.columns = [c.split(' (')[0] for c in t.columns]
    t['time'] = (pd.to_datetime(t.time) + pd.Timedelta(hours=2)).dt.strftime('%Y-%m-%d %H:%M:%S')
    t.to_csv(tmp_path / 'paris_local.csv')
    env = job_env(tmp_path, 'http://127.0.0.1:9/v1/archive')
    run_job('predict.ipynb', tmp_path / 'predict.ipynb', env, date='2024-06-01', data_file=str(tmp_path / 'paris_local.csv'),
            utc_offset_seconds=7200, history_days=400)
    db = connect(tmp_path / 'meteo.db')
    assert db.execute('SELECT MAX(time), COUNT(*) FROM observations').fetchone() == \
        ('2024-05-31T23:00:00Z', len(read_export(sample_path(PARIS_MULTI)).loc[:'2024-05-31 23:00']))
    assert db.execute('SELECT COUNT(*), MIN(data_until) FROM predictions').fetchone() == (8, '2024-06-01T00:00:00Z')
    steps = json.loads(db.execute('SELECT steps FROM runs').fetchone()[0])
    assert next(s for s in steps if s['step'] == 'ingest')['source'] == 'paris_local.csv'


@pytest.mark.integration
def test_without_a_network_make_predict_fails_at_once_in_one_sentence(tmp_path):
    env = {**os.environ, 'OPEN_METEO_ARCHIVE_URL': 'http://archive.invalid/v1/archive', 'METEO_FORECAST_DB': str(tmp_path / 'm.db'),
           'RUNS': str(tmp_path / 'runs')}
    t0 = time.monotonic()
    done = subprocess.run(['make', '--no-print-directory', 'predict', f'RUNS={tmp_path}/runs'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and time.monotonic() - t0 < 30
    assert [line for line in done.stderr.splitlines() if line.startswith('error:')] == [(
        'error: cannot reach the Open-Meteo archive at http://archive.invalid/v1/archive (name not found): check the network '
        'connection or OPEN_METEO_ARCHIVE_URL, or work offline from an Open-Meteo export file (make run DATA_FILE=… DATE=…, '
        'or -p data_file … for the job notebooks)')]
    assert 'Traceback' not in done.stderr + done.stdout and not (tmp_path / 'm.db').exists()
