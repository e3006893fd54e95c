"""No leakage: no feature and no forecast of day D uses data at or after D's issue time (its origin).

Every model class of the production pipeline is checked the same way: its forecast (and the inputs
it reports) must not change when every observation from the origin on is replaced by noise. The
chosen pipeline is also checked end to end: training never reads past `train_end`.
"""
import numpy as np
import pandas as pd
import pytest

from meteo_forecast.combination import MEMBERS, CombinationForecaster
from meteo_forecast.config import sample_path, utc
from meteo_forecast.features import assert_no_leakage, noise_after, origins_of
from meteo_forecast.models import History, assert_forecaster_no_leakage, read_history
from meteo_forecast.pipeline import ALGORITHMS, DEFAULT_ALGORITHM, forecast_day, train_model, training_days

pytestmark = pytest.mark.integration

DAYS = ['2023-03-14', '2023-08-02']
GAPS = [0, 129]


@pytest.fixture(scope='module')
def paris():
    "Paris temperature 2014-2024 joined with the weather of 2021-2024, as production merges them."
    return read_history(sample_path('paris_2014-2024_temperature_2m.csv'), sample_path('paris_2020-2024_multivariate.csv'))


def noisy_after(history: History, t, seed=0) -> History:
    "The history with every hourly value at or after `t` replaced by noise."
    return History(noise_after(history.hourly, utc(t), np.random.default_rng(seed)))


@pytest.mark.parametrize('gap', GAPS)
def test_features_use_only_data_before_the_origin(paris, gap):
    assert_no_leakage(paris.slots, paris.hourly, DAYS, gap)


@pytest.mark.parametrize('gap', GAPS)
@pytest.mark.parametrize('algorithm', sorted(ALGORITHMS))
def test_every_model_forecasts_from_data_before_the_origin(paris, algorithm, gap):
    past = paris.until('2023-01-01')
    days = training_days(past, utc('2022-12-31'), gap)[-250:]   # a short training period keeps the test quick
    model = ALGORITHMS[algorithm](gap).fit(past, days)
    assert_forecaster_no_leakage(model, paris, DAYS)
    for day, origin in zip(DAYS, origins_of(DAYS, gap)):   # in production the data ends at the origin: same forecast
        pd.testing.assert_frame_equal(model.predict(paris.until(origin), [day]), model.predict(paris, [day]))
    for day, origin in zip(DAYS, origins_of(DAYS, gap)):
        clean, noisy = model.inputs(paris, day), model.inputs(noisy_after(paris, origin), day)
        assert clean.keys() == noisy.keys()
        assert np.allclose([v if v is not None else np.nan for v in clean.values()],
                           [v if v is not None else np.nan for v in noisy.values()], equal_nan=True), algorithm


@pytest.mark.parametrize('gap', GAPS)
@pytest.mark.parametrize('member', sorted(MEMBERS))
def test_every_member_of_the_combination_forecasts_from_data_before_the_origin(paris, member, gap):
    past = paris.until('2023-01-01')
    model = MEMBERS[member](gap).fit(past, training_days(past, utc('2022-12-31'), gap)[-250:])
    assert_forecaster_no_leakage(model, paris, DAYS)


@pytest.mark.parametrize('gap', GAPS)
def test_the_combination_learns_its_weights_from_the_training_days_only(paris, gap):
    "The held-out forecasts that set the weights come from data before each held-out day: noise after training changes nothing."
    past = paris.until('2023-01-01')
    days = training_days(past, utc('2022-12-31'), gap)[-250:]
    clean = CombinationForecaster(gap).fit(paris, days)
    noisy = CombinationForecaster(gap).fit(noisy_after(paris, '2023-01-01'), days)
    assert clean.names_ == noisy.names_ and np.allclose(clean.weights_, noisy.weights_)
    pd.testing.assert_frame_equal(clean.predict(paris, DAYS), noisy.predict(paris, DAYS))
@pytest.mark.parametrize('params', [None, {'max_depth': 2, 'n_estimators': 100, 'learning_rate': 0.1}])
def test_the_tuning_forecasts_use_only_data_before_each_origin(paris, params):
    "A trial's validation forecasts (two refits, the shared design of the trials) do not change when the data from a day's origin on is noise."
    from meteo_forecast.tuning import build, evaluate, refits
    recent = History(paris.hourly.loc['2021-01-01':])   # three years before the days: a quicker fit, weather on every day
    days, day = pd.date_range('2023-03-30', '2023-04-02', freq='D', tz='UTC'), '2023-04-01'
    noisy = noisy_after(recent, day)
    clean = evaluate(recent, refits(recent, days), lambda: build('two_stage', params), reuse=True)
    peeked = evaluate(noisy, refits(noisy, days), lambda: build('two_stage', params), reuse=True)
    pd.testing.assert_frame_equal(peeked.loc[:day], clean.loc[:day])
    assert not np.allclose(peeked.loc['2023-04-02'], clean.loc['2023-04-02'])   # the next day sees the noise: the check can fail


def test_the_leakage_check_catches_a_leak(paris):
    class Peeking(ALGORITHMS['persistence'](0).__class__):
        def predict(self, history, days):
            out = super().predict(history, days)
            return out + history.slots.temperature_2m.reindex(out.index).to_numpy()[:, None]
    with pytest.raises(AssertionError, match='uses data at or after'):
        assert_forecaster_no_leakage(Peeking(), paris, DAYS[:1])


def test_the_chosen_pipeline_trains_and_forecasts_without_looking_ahead(paris):
    "Training (with its validation and intervals) and the forecast, end to end, on three years: quicker than ten, the same code."
    recent = History(paris.hourly.loc['2020-06-01':])
    train_end, day = utc('2023-05-31'), utc('2023-06-01')
    clean, metrics = train_model(recent, train_end, DEFAULT_ALGORITHM)
    noisy, _ = train_model(noisy_after(recent, '2023-06-01'), train_end, DEFAULT_ALGORITHM)
    assert clean.intervals_ is not None   # more than a year of training days: the intervals' calibration ran too
    a = forecast_day(clean, recent, day)
    b = forecast_day(noisy, noisy_after(recent, '2023-06-01'), day)
    np.testing.assert_allclose(a.predicted, b.predicted)
    assert (a.horizon_hours == [3, 6, 9, 12, 15, 18, 21, 24]).all()
    assert a.data_until.iloc[0] == day
