"""The package trains what the experiments chose."""
import io
import json

import joblib
import numpy as np
import pandas as pd

import pytest
from meteo_forecast.config import EXOGENOUS, sample_path, utc
from meteo_forecast.schema import connect
from meteo_forecast.intervals import MIN_FIT_DAYS, calibration_split
from meteo_forecast.models import read_history
from meteo_forecast.pipeline import ALGORITHMS, forecast_day, make_model, train_model
from meteo_forecast.two_stage import TwoStageForecaster

from conftest import PLUMBING_ALGORITHM

pytestmark = pytest.mark.integration

REQUIRED = {'persistence', 'climatology', 'arima', 'sarima', 'sarimax'}


def test_the_predict_job_registers_the_configured_model_trained_with_the_weather(predicted):
    "The model a real papermill predict job stored is the one METEO_FORECAST_CANDIDATES names, trained with the weather."
    db = connect(predicted.db_path)
    name, algorithm, features = db.execute('SELECT name, algorithm, features FROM models').fetchone()
    assert (name, algorithm) == (PLUMBING_ALGORITHM, type(make_model(PLUMBING_ALGORITHM, 0)).__name__)
    assert any(v in f for f in json.loads(features) for v in EXOGENOUS)   # a feature of the multivariate file's weather


def test_every_algorithm_builds_an_untrained_model_of_its_name_for_the_gap():
    assert REQUIRED <= set(ALGORITHMS) and len(set(ALGORITHMS) - REQUIRED - {'two_stage'}) >= 2
    models = {k: make_model(k, 24) for k in ALGORITHMS}
    assert {k: (m.name, m.gap_hours) for k, m in models.items()} == {k: (k, 24) for k in ALGORITHMS}


def test_train_model_trains_the_chosen_model_with_its_weather_correction():
    paris = read_history(sample_path('paris_2014-2024_temperature_2m.csv'), sample_path('paris_2020-2024_multivariate.csv'))
    model, metrics = train_model(paris, utc('2023-12-31'), max_days=400)   # plumbing: a short history is enough
    assert isinstance(model, TwoStageForecaster) and model.name == 'two_stage'
    assert model.correction_ is not None                       # the weather is used
    assert model.correction_days_[1] == pd.Timestamp('2023-12-31', tz='UTC')
    assert model.train_end_ == pd.Timestamp('2023-12-31', tz='UTC')
    # validated on the held-out days after a year of fitting, on which the intervals are calibrated too
    assert metrics['train_days'] == 400 and metrics['validation']['n_days'] == calibration_split(400) == 400 - MIN_FIT_DAYS
    assert metrics['validation']['mae'] < 1.8 and model.intervals_ is not None
    assert any(c.startswith('wx_') for c in model.features)


def test_the_combination_trains_with_validation_and_intervals_then_forecasts_a_day():
    "The combination goes through the jobs' path: validated and calibrated by train_model, saved, forecasting with intervals."
    paris = read_history(sample_path('paris_2014-2024_temperature_2m.csv'), sample_path('paris_2020-2024_multivariate.csv'))
    model, metrics = train_model(paris, utc('2023-12-31'), 'combination', max_days=500)   # plumbing: a short history
    assert model.name == 'combination' and model.intervals_ is not None and metrics['validation']['mae'] < 1.8
    assert np.isclose(model.weights_.sum(), 1) and set(model.params()['weights']) == set(model.names_)
    buf = io.BytesIO(); joblib.dump(model, buf); buf.seek(0)
    day = utc('2024-01-02')
    out = forecast_day(joblib.load(buf), paris, day)
    assert len(out) == 8 and out.predicted.notna().all()
    assert ((out.lower_95 <= out.lower_80) & (out.lower_80 <= out.predicted) & (out.predicted <= out.upper_80)
            & (out.upper_80 <= out.upper_95)).all()
    pd.testing.assert_series_equal(out.predicted, forecast_day(model, paris, day).predicted)
    assert {f'{n}_weight' for n in model.names_} <= set(out.inputs.iloc[0])
