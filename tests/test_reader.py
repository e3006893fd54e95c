"""The export-file reader on the real Open-Meteo files, checked against their raw lines."""
import csv
import json

import numpy as np
import pandas as pd
import pytest

from meteo_forecast.config import sample_path
from meteo_forecast.openmeteo import OpenMeteoError, read_export


def raw_rows(name):
    "The data lines of a CSV export, read with the csv module (not with the code under test)."
    with open(sample_path(name), encoding='utf-8') as f:
        rows = list(csv.reader(f))
    return rows[3], rows[4:]


def test_centre_france_csv_matches_its_lines():
    df = read_export(sample_path('centre-france_2024-2025_export.csv'))
    header, rows = raw_rows('centre-france_2024-2025_export.csv')
    assert len(df) == len(rows) == 17_544
    assert header[1] == 'temperature_2m (°C)'
    assert list(df.columns) == ['temperature_2m', 'wind_speed_10m', 'wind_speed_100m', 'relative_humidity_2m',
                                'cloud_cover', 'wind_direction_10m', 'wind_direction_100m', 'precipitation']
    for i in (0, 1000, len(rows) - 1):
        assert df.index[i] == pd.Timestamp(rows[i][0], tz='UTC')
        np.testing.assert_allclose(df.iloc[i].to_numpy(), [float(v) for v in rows[i][1:]])
    assert df.index.tz is not None and str(df.index.tz) == 'UTC'
    assert df.attrs['grid'] == {'latitude': 46.010544, 'longitude': 2.0, 'elevation': 550.0}


def test_saved_json_response_honours_utc_offset_and_legacy_names():
    js = json.loads(sample_path('archive_response_sample.json').read_text())
    df = read_export(sample_path('archive_response_sample.json'))
    assert js['utc_offset_seconds'] == -10800 and js['hourly']['time'][0] == '2010-01-01T00:00'
    assert df.index[0] == pd.Timestamp('2010-01-01T03:00', tz='UTC')   # local midnight in UTC-3
    assert 'relativehumidity_2m' in js['hourly'] and 'windspeed_10m' in js['hourly']
    assert list(df.columns) == ['temperature_2m', 'relative_humidity_2m', 'wind_speed_10m', 'precipitation']
    np.testing.assert_allclose(df.relative_humidity_2m.to_numpy(), np.array(js['hourly']['relativehumidity_2m'], float))
    np.testing.assert_allclose(df.temperature_2m.to_numpy(), np.array(js['hourly']['temperature_2m'], float))
    assert len(df) == 72


def test_csv_with_a_utc_offset_and_other_units(tmp_path):
    "The same real lines, exported at UTC+2 in Fahrenheit, give the same UTC table in Celsius."
    header, rows = raw_rows('paris_2020-2024_multivariate.csv')
    lines = ['latitude,longitude,elevation,utc_offset_seconds,timezone,timezone_abbreviation',
             '48.8566,2.3522,36.0,7200,Europe/Paris,CEST', '', 'time,temperature_2m (°F)']
    for t, v in [(r[0], r[1]) for r in rows[:48]]:
        local = pd.Timestamp(t) + pd.Timedelta(hours=2)
        lines.append(f"{local:%Y-%m-%dT%H:%M},{float(v) * 9 / 5 + 32:.4f}")
    path = tmp_path / 'paris_f.csv'
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    df = read_export(path)
    assert df.index[0] == pd.Timestamp(rows[0][0], tz='UTC')
    np.testing.assert_allclose(df.temperature_2m.to_numpy(), [float(r[1]) for r in rows[:48]], atol=1e-3)


@pytest.mark.parametrize('content, message', [
    ('not,an\nexport\n', 'not an Open-Meteo file: no metadata lines'),
    ('latitude,longitude,elevation,utc_offset_seconds,timezone,timezone_abbreviation\n1,2,3,0,GMT,GMT\n\nfoo,bar\n1,2\n', 'no hourly table'),
])
def test_files_that_are_not_exports_are_refused(tmp_path, content, message):
    path = tmp_path / 'bad.csv'
    path.write_text(content)
    with pytest.raises(OpenMeteoError, match=message):
        read_export(path)


def test_unreadable_json_file(tmp_path):
    path = tmp_path / 'cut.json'
    path.write_text(sample_path('archive_response_sample.json').read_text()[:500])
    with pytest.raises(OpenMeteoError, match='not valid JSON'):
        read_export(path)
