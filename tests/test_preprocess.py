"""3-hour slots checked against means computed by hand from the raw CSV lines."""
import csv
from collections import defaultdict

import numpy as np
import pandas as pd

from meteo_forecast.config import sample_path
from meteo_forecast.openmeteo import read_export
from meteo_forecast.preprocess import fill_gaps, hourly_to_3h, to_3h


def test_every_paris_slot_is_the_mean_of_its_three_hours():
    sums, counts = defaultdict(float), defaultdict(int)
    with open(sample_path('paris_2014-2024_temperature_2m.csv'), encoding='utf-8') as f:
        for row in list(csv.reader(f))[4:]:
            day, hour = row[0][:10], int(row[0][11:13])
            key = f"{day}T{hour // 3 * 3:02d}:00"
            sums[key] += float(row[1])
            counts[key] += 1
    assert set(counts.values()) == {3}
    by_hand = pd.Series({k: sums[k] / 3 for k in sums})
    slots = to_3h(read_export(sample_path('paris_2014-2024_temperature_2m.csv'))).temperature_2m
    assert len(slots) == len(by_hand) == 32_144
    np.testing.assert_allclose(slots.to_numpy(), by_hand.sort_index().to_numpy(), atol=1e-9)
    assert slots.index[0] == pd.Timestamp('2014-01-01', tz='UTC') and slots.index[1].hour == 3


def test_short_gaps_are_bridged_and_long_ones_drop_their_slots():
    hourly = read_export(sample_path('paris_2020-2024_multivariate.csv')).loc['2024-01-10':'2024-01-11']
    holed = hourly.copy()
    holed.iloc[4:7, 0] = np.nan      # 3 hours, 04-06 h: bridged
    holed.iloc[30:34, 0] = np.nan    # 4 hours, 06-09 h on the 11th: left missing
    filled = fill_gaps(holed)
    assert filled.temperature_2m.iloc[4:7].notna().all()
    expected = np.interp([4, 5, 6], [3, 7], hourly.temperature_2m.iloc[[3, 7]])
    np.testing.assert_allclose(filled.temperature_2m.iloc[4:7], expected)
    assert filled.temperature_2m.iloc[30:34].isna().all()
    slots = hourly_to_3h(holed).temperature_2m
    assert slots.index[slots.isna()].strftime('%d %H').tolist() == ['11 06', '11 09']


def test_a_slot_missing_an_hour_is_missing_not_a_two_hour_mean():
    hourly = read_export(sample_path('paris_2020-2024_multivariate.csv')).loc['2024-02-01']
    slots = to_3h(hourly.drop(hourly.index[13]))
    assert np.isnan(slots.temperature_2m.loc['2024-02-01 12:00'])
    assert slots.temperature_2m.notna().sum() == 7
