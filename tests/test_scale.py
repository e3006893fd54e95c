"""The scale benchmark `nbs/scale.ipynb` on a small size: its parameters and its results file (the full run is a benchmark)."""
import json
from pathlib import Path

import papermill
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize('backend', ['sqlite', 'postgresql'])
def test_two_cities_of_one_year_fill_a_database_and_time_the_real_api(tmp_path, backend, request):
    out = tmp_path / 'scale.json'
    server = {'postgresql_url': request.getfixturevalue('postgresql').url} if backend == 'postgresql' else {}
    papermill.execute_notebook(str(ROOT / 'nbs' / 'scale.ipynb'), str(tmp_path / 'scale.ipynb'), cwd=str(ROOT), progress_bar=False,
                               parameters={'cities': 2, 'years': 1, 'curve': '1', 'requests_per_endpoint': 20, 'backend': backend,
                                           'results_path': str(out), 'workdir': str(tmp_path / 'db'), **server})
    r = json.loads(out.read_text())
    assert {'cities', 'years', 'backend', 'rows', 'db_bytes', 'load_seconds', 'latency_ms'} <= set(r)
    assert (r['cities'], r['years'], r['backend']) == (2, 1, backend)
    assert r['rows']['locations'] == 2 and r['rows']['observations'] == 2 * 8784          # 2024, a leap year, hour by hour
    assert r['rows']['predictions'] == 2 * 8 * 365 and r['db_bytes'] > 0 and r['load_seconds'] > 0
    for endpoint in ('predictions', 'comparison', 'observations'):
        p = r['latency_ms'][endpoint]
        assert 0 < p['p50'] <= p['p95'] <= p['p99'], endpoint
    assert [c['cities'] for c in r['curve']] == [1] and r['curve'][0]['rows']['observations'] == 8784


def test_an_unknown_backend_is_refused_clearly(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match="backend must be sqlite or postgresql, got 'mysql'"):
        papermill.execute_notebook(str(ROOT / 'nbs' / 'scale.ipynb'), str(tmp_path / 'scale.ipynb'), cwd=str(ROOT), progress_bar=False,
                                   parameters={'backend': 'mysql', 'results_path': str(tmp_path / 'r.json')})
    assert not (tmp_path / 'r.json').exists()
