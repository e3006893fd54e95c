"""Forecast intervals end to end: leak-free, nested around their forecast in every stored row, adapted to past misses."""
import numpy as np
import pandas as pd
import pytest

from meteo_forecast.schema import connect
from meteo_forecast.features import noise_after
from meteo_forecast.jobs import predict_job
from meteo_forecast.openmeteo import ArchiveClient
from meteo_forecast.scoring import INTERVAL_COLUMNS
from meteo_forecast.standin import ArchiveStandIn

pytestmark = pytest.mark.integration
DAYS = ['2024-05-31', '2024-06-01', '2024-06-02']
ISSUE = pd.Timestamp('2024-06-02 00:30', tz='UTC')   # the instant 2 June is forecast, just after midnight
HISTORY = 460   # (a quick model) enough days for intervals: a year to fit the held-out copy, 30 days to calibrate on, a month of lags


def forecast_days(frames, folder, days=DAYS) -> pd.DataFrame:
    "The predict job (training its model) for each of `days` at 00:30 UTC of the day, as a daily operator runs it; the rows of the last day."
    with ArchiveStandIn(*[f.copy() for f in frames]) as si:
        client = ArchiveClient(si.url, retries=0)
        for day in days:
            si.now = pd.Timestamp(day, tz='UTC') + pd.Timedelta(minutes=30)
            predict_job(day, model='ridge', history_days=HISTORY, db=folder / 'm.db',
                        registry=folder / 'r', client=client)
    return connect(folder / 'm.db').frame(f"SELECT target_time, predicted, {', '.join(INTERVAL_COLUMNS)} FROM predictions "
                                          f"WHERE target_time >= '{days[-1]}' ORDER BY target_time")


def test_the_intervals_of_a_day_use_nothing_after_its_issue_instant(paris_frames, tmp_path):
    "The same days forecast against an archive whose values after 2 June's issue instant are noise: identical intervals."
    noisy = [f.copy() for f in paris_frames]
    for f in noisy: f.loc[:] = noise_after(f, ISSUE, np.random.default_rng(0)).to_numpy()
    clean = forecast_days(paris_frames, tmp_path / 'clean')
    pd.testing.assert_frame_equal(clean, forecast_days(noisy, tmp_path / 'noisy'))
    assert clean[INTERVAL_COLUMNS].notna().all(axis=None) and len(clean) == 8
    # the two days before were scored and moved the levels: without them, the same model gives other intervals
    alone = forecast_days(paris_frames, tmp_path / 'alone', DAYS[-1:])
    pd.testing.assert_series_equal(clean.predicted, alone.predicted)
    assert not np.allclose(clean.upper_80 - clean.lower_80, alone.upper_80 - alone.lower_80)


def test_every_stored_interval_contains_its_forecast_and_the_95_contains_the_80(month):
    rows = connect(month.db_path).frame(f"SELECT predicted, {', '.join(INTERVAL_COLUMNS)} FROM predictions")
    assert len(rows) == 240 and rows.notna().all(axis=None)
    assert ((rows.lower_95 <= rows.lower_80) & (rows.lower_80 <= rows.predicted) & (rows.predicted <= rows.upper_80)
            & (rows.upper_80 <= rows.upper_95)).all()
    assert ((rows.upper_95 - rows.lower_95) > (rows.upper_80 - rows.lower_80)).all()
