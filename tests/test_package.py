"""The package as it is installed: every exported module imports on its own, the production path loads only
itself, and the experiment helpers work outside their notebooks (a name only a notebook cell imports fails here)."""
import json
import subprocess
import sys

import pytest

from meteo_forecast._modidx import d as MODIDX

EXPERIMENTS = ['meteo_forecast.eda', 'meteo_forecast.statistical', 'meteo_forecast.ml', 'meteo_forecast.backtest',
               'meteo_forecast.interpretation', 'meteo_forecast.replay', 'meteo_forecast.interval_baselines']
HEAVY = ['statsmodels', 'fastapi', 'sklearn', 'xgboost']
pytestmark = pytest.mark.timeout(180)


def python(code: str) -> str:
    "Run `code` in a fresh interpreter; its standard output."
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_exported_module_imports_in_a_fresh_interpreter():
    modules = sorted(MODIDX['syms'])
    assert {'meteo_forecast.config', 'meteo_forecast.api.routes', 'meteo_forecast.two_stage'} <= set(modules)
    out = python(f"import importlib, json\nfor m in {modules!r}: importlib.import_module(m)\nprint('ok')")
    assert out.strip() == 'ok'


@pytest.mark.parametrize('entry, forbidden', [
    ('meteo_forecast.jobs', EXPERIMENTS + ['meteo_forecast.api', 'statsmodels', 'fastapi']),
    ('meteo_forecast.api', EXPERIMENTS + ['meteo_forecast.jobs', 'meteo_forecast.models', 'statsmodels', 'sklearn', 'xgboost']),
    ('meteo_forecast.monitoring', EXPERIMENTS + ['meteo_forecast.api', 'statsmodels', 'fastapi']),
    ('meteo_forecast.console', EXPERIMENTS + ['meteo_forecast.api', 'statsmodels', 'fastapi', 'papermill']),
])
def test_the_production_path_loads_only_itself(entry, forbidden):
    loaded = json.loads(python(f"import sys, json, {entry}\nprint(json.dumps(sorted(m for m in {forbidden!r} if m in sys.modules)))"))
    assert loaded == [], f"importing {entry} loads {loaded}"


def test_a_job_loads_only_the_algorithm_it_trains():
    code = ("import sys, json\nfrom meteo_forecast.pipeline import make_model\nmake_model('two_stage', 0)\n"
            f"print(json.dumps(sorted(m for m in {EXPERIMENTS + ['statsmodels']!r} if m in sys.modules)))\n"
            "make_model('sarima', 0)\nprint('meteo_forecast.statistical' in sys.modules)")
    first, second = python(code).split('\n')[:2]
    assert json.loads(first) == [] and second == 'True'


SMOKE = '''
import numpy as np, pandas as pd
from meteo_forecast.config import sample_path
from meteo_forecast.models import read_history
from meteo_forecast import backtest, eda, interpretation, statistical
H = read_history(sample_path('paris_2014-2024_temperature_2m.csv')).until('2016-01-01')
s = eda.stationarity(H.slots.temperature_2m.loc['2015'].diff(8))   # day-to-day changes: stationary
assert s['adf_p'] < 0.01 and 0 <= s['kpss_p'] <= 1, s
assert interpretation.feature_group('wx_pressure_change_6h') == 'pressure'
X = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 2)), columns=['a', 'b'])
imp = interpretation.permutation_importance(lambda X: pd.DataFrame({'00h': 2 * X.a}), X, pd.DataFrame({'00h': 2 * X.a}),
                                            {'a': ['a'], 'b': ['b']}, n_repeats=2)
assert imp.loc['b', 'mae_increase'] == 0 and imp.loc['a', 'mae_increase'] > 0
assert statistical.select_by_validation(pd.DataFrame({'mae': [1.0, 1.002], 'bic': [5.0, 1.0]}, index=['x', 'y'])) == 'y'
days = pd.date_range('2015-12-29', '2015-12-31', freq='D', tz='UTC')
bt = backtest.run_backtest(H, days, {k: backtest.ALGORITHMS[k] for k in ('persistence', 'climatology')})
js = backtest.results_json(bt, '2015-12-29', '2015-12-31')
assert js['n_days'] == 3 and js['best'] in ('persistence', 'climatology')
assert list(backtest.by_season(bt).columns) == ['DJF']
print('ok')
'''


def test_the_experiment_helpers_work_from_the_installed_package():
    assert python(SMOKE).strip().endswith('ok')
