"""The monitoring job over a backfilled month: PNG plots, rolling error and coverage, drift, miscalibration and staleness flags, CLI
(the drift and staleness checks on both database engines)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meteo_forecast.api import create_app
from meteo_forecast.schema import connect
from meteo_forecast.monitoring import monitor

from conftest import MONTH

pytestmark = pytest.mark.integration

PNG = b'\x89PNG\r\n\x1a\n'


def dump(db):
    return {t: db.execute(f'SELECT * FROM {t} ORDER BY 1, 2').fetchall()
            for t in ('locations', 'observations', 'observations_3h', 'models', 'predictions')}


def test_monitor_draws_pngs_and_reports_rolling_error(month, tmp_path):
    db = connect(month.db_path)
    before = dump(db)
    report = monitor(*MONTH, output=tmp_path / 'monitoring', now='2024-07-01T04:00:00Z', db=db)
    paris = report['locations']['Paris']
    pngs = [Path(f) for f in paris['files'] if f.endswith('.png')]
    assert [p.name for p in pngs] == ['Paris_2024-06-01_2024-06-30_forecasts.png', 'Paris_2024-06-01_2024-06-30_rolling_error.png',
                                      'Paris_2024-06-01_2024-06-30_coverage.png']
    assert all(p.read_bytes()[:8] == PNG and p.stat().st_size > 10_000 for p in pngs)
    saved = json.loads((tmp_path / 'monitoring' / 'Paris_2024-06-01_2024-06-30_report.json').read_text())
    assert saved['summary'] == json.loads(json.dumps(paris['summary']))
    api = TestClient(create_app(month.db_path)).get('/predictions/observed', params=dict(zip(('start', 'end'), MONTH))).json()
    assert paris['summary']['mae'] == pytest.approx(api['summary']['mae'], abs=0.005) and paris['summary']['count'] == 232   # the API: to 0.01 °C
    rolling = paris['rolling']
    assert len(rolling) == 29 and rolling[-1]['mae_30d'] == pytest.approx(paris['summary']['mae'])
    assert all(r['mae_7d'] > 0 for r in rolling)
    assert (report['drift'], report['stale'], report['miscalibrated']) == (False, False, False)
    # the coverage of the intervals, as the API reports it, and within the tolerance of a month
    (coverage,) = paris['coverage'].values()
    assert coverage['coverage_80'] == pytest.approx(api['summary']['coverage_80'], abs=5e-5) and coverage['count'] == 232
    assert abs(coverage['coverage_80'] - 0.8) < coverage['tolerance_80'] and rolling[-1]['coverage_80_30d'] == pytest.approx(coverage['coverage_80'])
    assert dump(db) == before   # monitoring writes nothing but its run row
    assert db.execute("SELECT job, status FROM runs ORDER BY id DESC LIMIT 1").fetchone() == ('monitor', 'succeeded')


def test_drift_is_flagged_above_the_ratio_of_the_validation_mae(month_url, tmp_path, caplog):
    report = monitor(*MONTH, output=tmp_path, now='2024-07-01T04:00:00Z', ratio=0.5, db=month_url)
    (name, drift), = report['locations']['Paris']['drift'].items()
    assert drift['drift'] and report['drift'] and drift['mae'] > 0.5 * drift['validation_mae']
    assert drift['n_days'] == 29 and drift['count'] == 232 and drift['threshold'] == pytest.approx(0.5 * drift['validation_mae'])
    assert any(r.levelname == 'WARNING' and r.getMessage().startswith(f'drift: {name} forecasts of Paris') for r in caplog.records)
    # with the real threshold, June 2024 is no drift: its MAE is below 1.5 x the models' validation MAE
    normal = monitor(*MONTH, output=tmp_path, now='2024-07-01T04:00:00Z', db=month_url)['locations']['Paris']['drift'][name]
    assert normal['drift'] is False and normal['mae'] < normal['threshold']


def test_stale_data_is_flagged(month_url, tmp_path, caplog):
    report = monitor(*MONTH, output=tmp_path, db=month_url)   # seen from now: observations end in June 2024
    stale = report['locations']['Paris']['staleness']
    assert report['stale'] and stale['stale'] and stale['last_observation'] == '2024-06-29T23:00:00Z' and stale['lag_days'] > 7
    assert any(r.levelname == 'WARNING' and 'stale data: the last observation of Paris is 2024-06-29T23:00:00Z' in r.getMessage()
               for r in caplog.records)
    # the month came from best_match, published every 6 hours: stale a day after that (30 h), not 7 days
    assert (stale['source'], stale['max_lag_hours']) == ('best_match', 30)
    assert not monitor(*MONTH, output=tmp_path, now='2024-07-01T06:00:00Z', db=month_url)['stale']   # 30 h old
    assert monitor(*MONTH, output=tmp_path, now='2024-07-01T07:00:00Z', db=month_url)['stale']       # 31 h old


def test_monitor_without_forecasts_fails_with_a_run_row(tmp_path):
    db = connect(tmp_path / 'empty.db')
    with pytest.raises(ValueError, match='no forecasts stored yet'):
        monitor(output=tmp_path, db=db)
    assert db.execute('SELECT job, status, step FROM runs').fetchone() == ('monitor', 'failed', 'parameters')


def test_monitor_cli(month, tmp_path):
    cli = str(Path(sys.executable).parent / 'meteo_monitor')
    base = [cli, '--db', str(month.db_path), '--output', str(tmp_path / 'out'), '--strict']
    ok = subprocess.run(base + ['--now', '2024-07-01T04:00:00Z'], capture_output=True, text=True, timeout=120, env=os.environ)
    assert ok.returncode == 0, ok.stderr
    assert 'monitoring 2024-04-02..2024-06-30' in ok.stdout   # default period: 90 days up to the last forecast
    assert 'Paris: 240 forecasts, 232 scored: MAE' in ok.stdout and 'no drift' in ok.stdout and 'fresh' in ok.stdout
    assert len(list((tmp_path / 'out').glob('*.png'))) == 3 and '% inside the 80 % intervals' in ok.stdout and 'calibrated' in ok.stdout
    stale = subprocess.run(base, capture_output=True, text=True, timeout=120, env=os.environ)
    assert stale.returncode == 1 and 'STALE' in stale.stdout


def test_miscalibrated_intervals_are_flagged(month, tmp_path, caplog):
    "Intervals a quarter as wide as stored cover far less than 80 %: flagged, logged, and --strict fails."
    narrow = tmp_path / 'narrow.db'
    narrow.write_bytes(month.db_path.read_bytes())
    db = connect(narrow)
    db.execute("UPDATE predictions SET lower_80 = predicted - (predicted - lower_80) / 4, upper_80 = predicted + (upper_80 - predicted) / 4")
    db.close()
    report = monitor(*MONTH, output=tmp_path, now='2024-07-01T04:00:00Z', db=narrow)
    (coverage,) = report['locations']['Paris']['coverage'].values()
    assert report['miscalibrated'] and coverage['miscalibrated'] and coverage['coverage_80'] < 0.8 - coverage['tolerance_80']
    assert any(r.levelname == 'WARNING' and r.getMessage().startswith('miscalibrated intervals:') for r in caplog.records)
    cli = str(Path(sys.executable).parent / 'meteo_monitor')
    done = subprocess.run([cli, '--db', str(narrow), '--output', str(tmp_path / 'out'), '--strict', '--now', '2024-07-01T04:00:00Z'],
                          capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 1 and 'MISCALIBRATED' in done.stdout


def test_monitor_cli_says_when_it_has_nothing_to_do(month, tmp_path):
    cli = str(Path(sys.executable).parent / 'meteo_monitor')
    done = subprocess.run([cli, '--db', str(month.db_path), '--output', str(tmp_path / 'out'), '--start', '2024-05-01', '--end', '2024-05-31'],
                          capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 1 and done.stdout == ''
    assert done.stderr.splitlines()[-1] == ('error: no forecasts between 2024-05-01 and 2024-05-31: the stored ones are of '
                                            '2024-06-01 to 2024-06-30; nothing written')
    assert not (tmp_path / 'out').exists()


def test_monitor_cli_writes_the_three_plots_and_the_report_before_anything_is_scored(month, tmp_path):
    cli = str(Path(sys.executable).parent / 'meteo_monitor')
    done = subprocess.run([cli, '--db', str(month.db_path), '--output', str(tmp_path / 'out'), '--start', '2024-06-30', '--end', '2024-06-30',
                           '--now', '2024-07-01T04:00:00Z'], capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ['monitoring 2024-06-30..2024-06-30',
                         'Paris: 8 forecasts, none scored yet: no observation of their slots is stored (the last is 2024-06-29T23:00:00Z)',
                         '  fresh: data 28 h old: the last observation is 2024-06-29T23:00:00Z, from best_match (stale after 30 h)']
    written = [line.removeprefix('  wrote ') for line in lines[3:]]
    assert [Path(f).name for f in written] == [f'Paris_2024-06-30_2024-06-30_{k}' for k in
                                               ('forecasts.png', 'rolling_error.png', 'coverage.png', 'report.json')]
    assert all(Path(f).stat().st_size > 5_000 for f in written[:3])
