"""The package trains what the experiments chose."""
import json

import pandas as pd

import pytest
from meteo_forecast.config import sample_path, utc
from meteo_forecast.schema import connect
from meteo_forecast.intervals import MIN_FIT_DAYS, calibration_split
from meteo_forecast.models import read_history
from meteo_forecast.pipeline import ALGORITHMS, DEFAULT_ALGORITHM, make_model, train_model
from meteo_forecast.two_stage import TwoStageForecaster

pytestmark = pytest.mark.integration

REQUIRED = {'persistence', 'climatology', 'arima', 'sarima', 'sarimax'}


def test_the_predict_job_registers_the_chosen_model_with_its_weather_correction(predicted):
    "The model a real papermill predict job stored is the two-stage model, trained with the weather."
    db = connect(predicted.db_path)
    name, algorithm, features = db.execute('SELECT name, algorithm, features FROM models').fetchone()
    assert (name, algorithm) == (DEFAULT_ALGORITHM, TwoStageForecaster.__name__)
    assert any(f.startswith('wx_') for f in json.loads(features))


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
