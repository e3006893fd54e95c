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


PARIS = Location(48.8566, 2.3522, 'Paris')
WARNING = 'times look like UTC+2: pass -p utc_offset_seconds 7200 if the file is in local time'


def paris_resaved(folder, hours: int = 2):
    "A pandas re-save of the Paris answer in local time (UTC+`hours`), as the third party saved it: no metadata, no units."
    t = table(PARIS_MULTI)
    t.columns = [c.split(' (')[0] for c in t.columns]
    t['time'] = (pd.to_datetime(t.time) + pd.Timedelta(hours=hours)).dt.strftime('%Y-%m-%d %H:%M:%S')
    t.to_csv(folder / f'paris_utc{hours:+d}.csv')
    return folder / f'paris_utc{hours:+d}.csv'


def test_a_file_in_local_time_without_metadata_is_detected_and_auto_reads_it(tmp_path, caplog):
    "Its daily cycle peaks two hours after where UTC puts it at Paris's longitude: a warning, or the offset applied."
    local, utc = paris_resaved(tmp_path, 2), paris_resaved(tmp_path, 0)
    with caplog.at_level('WARNING', logger='meteo_forecast'):
        report = import_file(connect(tmp_path / 'as_gmt.db'), local, PARIS)
    assert WARNING in report['time_zone_warning'] and report['utc_offset_seconds'] == 0
    assert [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    caplog.clear()
    with caplog.at_level('WARNING', logger='meteo_forecast'):
        db = connect(tmp_path / 'auto.db')
        report = import_file(db, local, PARIS, utc_offset_seconds='auto')
        assert import_file(connect(tmp_path / 'utc.db'), utc, PARIS).get('time_zone_warning') is None   # a UTC file: no warning
    assert report['utc_offset_seconds'] == 7200 and report.get('time_zone_warning') is None and not caplog.records
    pd.testing.assert_series_equal(hourly_observations(db, report['location_id']).temperature_2m,
                                   read_export(sample_path(PARIS_MULTI)).temperature_2m, check_freq=False)


def test_auto_refuses_what_it_cannot_tell(tmp_path):
    short = tmp_path / 'short.csv'
    pd.read_csv(paris_resaved(tmp_path, 2)).iloc[:24 * 30].to_csv(short, index=False)
    with pytest.raises(ValueError, match='30 days of temperature_2m, too few to tell its time zone'):
        import_file(connect(tmp_path / 'm.db'), short, PARIS, utc_offset_seconds='auto')
    with pytest.raises(ValueError, match="utc_offset_seconds must be a number of seconds or 'auto', got 'soon'"):
        import_file(connect(tmp_path / 'm.db'), short, PARIS, utc_offset_seconds='soon')
    with pytest.raises(ValueError, match='not both'):
        import_file(connect(tmp_path / 'm.db'), short, PARIS, utc_offset_seconds='auto', timezone='Europe/Paris')


def test_meteo_ingest_takes_utc_offset_seconds_auto(tmp_path):
    import sys
    from pathlib import Path
    local = paris_resaved(tmp_path, 2)
    done = subprocess.run([str(Path(sys.executable).parent / 'meteo_ingest'), '2024-06-01', '--data_file', str(local),
                           '--utc_offset_seconds', 'auto', '--db', str(tmp_path / 'm.db')], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'times look like UTC+2: read as UTC+2 (utc_offset_seconds auto' in done.stderr
    assert 'last observation 2024-05-31 23:00:00+00:00' in done.stdout


@pytest.mark.integration
@pytest.mark.parametrize('offset', [7200, 'auto'])
def test_the_predict_job_reads_a_resaved_file_in_local_time(tmp_path, offset):
    "The job notebook with `-p data_file` and `-p utc_offset_seconds` (seconds, or auto), as an operator runs it."
    local = paris_resaved(tmp_path, 2)
    env = job_env(tmp_path, 'http://127.0.0.1:9/v1/archive')
    run_job('predict.ipynb', tmp_path / 'predict.ipynb', env, date='2024-06-01', data_file=str(local),
            utc_offset_seconds=offset, history_days=400)
    db = connect(tmp_path / 'meteo.db')
    assert db.execute('SELECT MIN(time), MAX(time), COUNT(*) FROM observations').fetchone() == \
        ('2020-12-31T22:00:00Z', '2024-05-31T23:00:00Z', len(read_export(sample_path(PARIS_MULTI)).loc[:'2024-05-31 23:00']))
    assert db.execute('SELECT COUNT(*), MIN(data_until) FROM predictions').fetchone() == (8, '2024-06-01T00:00:00Z')
    ingest = next(s for s in json.loads(db.execute('SELECT steps FROM runs').fetchone()[0]) if s['step'] == 'ingest')
    assert (ingest['source'], ingest['utc_offset_seconds'], 'time_zone_warning' in ingest) == ('paris_utc+2.csv', 7200, False)


def test_a_job_records_the_warning_about_its_file(tmp_path):
    "Without the offset, the job's ingest step stores the file as UTC (two hours late) and records the warning on its run."
    from meteo_forecast.jobs import Run, observe
    db = connect(tmp_path / 'meteo.db')
    with Run(db, 'predict', {}) as run:
        observe(run, db, PARIS, pd.Timestamp('2024-06-01').date(), paris_resaved(tmp_path, 2), history_days=400)
    ingest = run.steps[0]
    assert ingest['utc_offset_seconds'] == 0 and WARNING in ingest['time_zone_warning']
    assert db.execute('SELECT MIN(time) FROM observations').scalar() == '2021-01-01T00:00:00Z'   # 22:00 UTC, read two hours late
    stored = json.loads(db.execute('SELECT steps FROM runs').scalar())
    assert WARNING in stored[0]['time_zone_warning']


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
