"""The package trains what the experiments chose."""
import pandas as pd

from meteo_forecast.config import sample_path
from meteo_forecast.ml import TwoStageForecaster
from meteo_forecast.models import read_history
from meteo_forecast.pipeline import ALGORITHMS, DEFAULT_ALGORITHM, make_model, train_model

REQUIRED = {'persistence', 'climatology', 'arima', 'sarima', 'sarimax'}


def test_the_default_algorithm_is_the_chosen_two_stage_model():
    assert DEFAULT_ALGORITHM == 'two_stage'
    assert isinstance(make_model(), TwoStageForecaster)
    assert REQUIRED <= set(ALGORITHMS) and len(set(ALGORITHMS) - REQUIRED - {'two_stage'}) >= 2


def test_train_model_trains_the_chosen_model_with_its_weather_correction():
    paris = read_history(sample_path('paris_2014-2024_temperature_2m.csv'), sample_path('paris_2020-2024_multivariate.csv'))
    model, metrics = train_model(paris, '2023-12-31')
    assert isinstance(model, TwoStageForecaster) and model.name == 'two_stage'
    assert model.correction_ is not None                       # the weather is used
    assert model.correction_days_[1] == pd.Timestamp('2023-12-31', tz='UTC')
    assert model.train_end_ == pd.Timestamp('2023-12-31', tz='UTC')
    assert metrics['validation']['n_days'] == 60 and metrics['validation']['mae'] < 1.8
    assert any(c.startswith('wx_') for c in model.features)
