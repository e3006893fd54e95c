"""The package as it is installed: every exported module imports on its own, the production path loads only
itself, and the experiment helpers work outside their notebooks (a name only a notebook cell imports fails here)."""
import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import meteo_forecast
from meteo_forecast._modidx import d as MODIDX

EXPERIMENTS = ['meteo_forecast.eda', 'meteo_forecast.statistical', 'meteo_forecast.ml', 'meteo_forecast.backtest',
               'meteo_forecast.interpretation', 'meteo_forecast.replay', 'meteo_forecast.interval_baselines',
               'meteo_forecast.accuracy', 'meteo_forecast.experiments', 'meteo_forecast.tuning', 'optuna']
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


# The jobs and the monitoring load MLflow's client, which itself imports FastAPI since MLflow 3: they must not load the
# project's API. The API serves the database alone: no model library, no MLflow. `meteo_job` (console) names the run's
# notebook after the job's place (`jobs.job_location`), so it loads the jobs' modules, but not papermill until it runs one.
@pytest.mark.parametrize('entry, forbidden', [
    ('meteo_forecast.jobs', EXPERIMENTS + ['meteo_forecast.api', 'statsmodels']),
    ('meteo_forecast.api', EXPERIMENTS + ['meteo_forecast.jobs', 'meteo_forecast.models', 'meteo_forecast.snapshot', 'statsmodels',
                                          'sklearn', 'xgboost', 'mlflow', 'meteo_forecast.tracking', 'meteo_forecast.registry']),
    ('meteo_forecast.monitoring', EXPERIMENTS + ['meteo_forecast.api', 'statsmodels']),
    ('meteo_forecast.console', EXPERIMENTS + ['meteo_forecast.api', 'statsmodels', 'papermill']),
])
def test_the_production_path_loads_only_itself(entry, forbidden):
    loaded = json.loads(python(f"import sys, json, {entry}\nprint(json.dumps(sorted(m for m in {forbidden!r} if m in sys.modules)))"))
    assert loaded == [], f"importing {entry} loads {loaded}"


def package_imports() -> dict[str, set[str]]:
    "The modules of the package each of its modules imports, at its top or inside a function."
    root = Path(meteo_forecast.__file__).parent
    files = {'.'.join(('meteo_forecast',) + p.relative_to(root).with_suffix('').parts).removesuffix('.__init__'): p
             for p in root.rglob('*.py') if p.name != '_modidx.py'}
    graph = {}
    for name, path in files.items():
        package = name if path.name == '__init__.py' else name.rpartition('.')[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import): found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name('.' * node.level + (node.module or ''), package) if node.level else node.module
                found |= {base} | {f'{base}.{a.name}' for a in node.names}
        graph[name] = {m for m in found if m in files and m not in (name, 'meteo_forecast')}
    return graph


def import_circle(graph: dict[str, set[str]]) -> list[str] | None:
    "One circle of imports in `graph`, as the list of its modules, or None."
    state, path = {}, []
    def visit(m):
        state[m] = 'open'
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 'open': return path[path.index(n):] + [n]
            if n not in state and (circle := visit(n)): return circle
        state[m] = 'done'
        path.pop()
        return None
    return next((c for m in sorted(graph) if m not in state and (c := visit(m))), None)


def test_no_module_imports_one_that_imports_it_back():
    "The dependencies run one way, the imports inside functions included: cities uses jobs, jobs knows nothing of cities."
    graph = package_imports()
    assert 'meteo_forecast.jobs' in graph['meteo_forecast.cities'] and 'meteo_forecast.db' in graph['meteo_forecast.schema']
    assert import_circle(graph) is None, f"import circle: {' -> '.join(import_circle(graph))}"
    assert import_circle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == ['a', 'b', 'c', 'a']   # the check finds one


def test_a_job_loads_only_the_algorithm_it_trains():
    code = ("import sys, json\nfrom meteo_forecast.pipeline import make_model\nmake_model('two_stage', 0)\nmake_model('combination', 0)\n"
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
