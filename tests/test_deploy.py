"""The Kubernetes manifests of deploy/k8s (validated against the API schemas by `make lint`): what holds them together."""
import yaml

from conftest import ROOT

K8S = ROOT / 'deploy' / 'k8s'


def resources() -> dict:
    kustomization = yaml.safe_load((K8S / 'kustomization.yaml').read_text())
    docs = [d for f in kustomization['resources'] for d in yaml.safe_load_all((K8S / f).read_text())]
    return {(d['kind'], d['metadata']['name']): d for d in docs}


def pod(resource: dict) -> dict:
    spec = resource['spec']
    return (spec['jobTemplate']['spec'] if resource['kind'] == 'CronJob' else spec)['template']['spec']


def test_every_workload_reads_the_database_url_from_the_secret():
    found = resources()
    workloads = [found[k] for k in (('CronJob', 'meteo-cities'), ('Deployment', 'meteo-api'), ('Deployment', 'meteo-datasette'))]
    for w in workloads:
        env = {e['name']: e for e in pod(w)['containers'][0]['env']}
        assert env['METEO_FORECAST_DB']['valueFrom']['secretKeyRef'] == {'name': 'meteo-database', 'key': 'url'}, w['metadata']
    example = next(yaml.safe_load_all((K8S / 'secret.example.yaml').read_text()))
    assert example['metadata']['name'] == 'meteo-database' and example['stringData']['url'].startswith('postgresql://')
    assert 'secret.example.yaml' not in (K8S / 'kustomization.yaml').read_text().split('resources:')[1]   # never applied as is


def test_the_cronjob_runs_the_cities_of_its_configmap_daily():
    found = resources()
    job = found[('CronJob', 'meteo-cities')]
    container, spec = pod(job)['containers'][0], pod(job)
    assert job['spec']['schedule'] == '30 1 * * *' and job['spec']['concurrencyPolicy'] == 'Forbid'
    assert 'meteo_cities /config/cities.csv' in ' '.join(container['args'])
    volumes = {v['name']: v for v in spec['volumes']}
    assert volumes['cities']['configMap']['name'] == 'meteo-cities' and ('ConfigMap', 'meteo-cities') in found
    env = {e['name']: e for e in container['env']}
    assert env['MLFLOW_TRACKING_URI']['value'] == 'http://mlflow:5000' and ('Service', 'mlflow') in found
    header = found[('ConfigMap', 'meteo-cities')]['data']['cities.csv'].splitlines()[0]
    assert header == 'name,latitude,longitude'


def test_services_select_their_pods_and_the_api_is_ready_only_with_its_database():
    found = resources()
    for name in ('meteo-api', 'meteo-datasette'):
        labels = found[('Deployment', name)]['spec']['template']['metadata']['labels']
        assert found[('Service', name)]['spec']['selector'].items() <= labels.items()
    api = pod(found[('Deployment', 'meteo-api')])['containers'][0]
    assert api['readinessProbe']['httpGet']['path'] == '/health' and api['livenessProbe']['httpGet']['path'] == '/version'
    datasette = pod(found[('Deployment', 'meteo-datasette')])['containers'][0]
    assert datasette['command'][:2] == ['api/datasette/serve.sh', '$(METEO_FORECAST_DB)']


def test_the_mlflow_tracking_server_keeps_its_store_in_its_own_database_and_its_files_on_a_volume():
    found = resources()
    server = found[('Deployment', 'mlflow')]
    container, spec = pod(server)['containers'][0], pod(server)
    env = {e['name']: e for e in container['env']}
    assert env['MLFLOW_BACKEND_STORE_URI']['valueFrom']['secretKeyRef'] == {'name': 'meteo-mlflow', 'key': 'url'}
    volumes = {v['name']: v for v in spec['volumes']}
    assert volumes['artifacts']['persistentVolumeClaim']['claimName'] == 'mlflow-artifacts'
    assert ('PersistentVolumeClaim', 'mlflow-artifacts') in found
    assert {m['mountPath'] for m in container['volumeMounts']} == {'/artifacts'}
    assert container['readinessProbe']['httpGet']['path'] == '/health'
    labels = server['spec']['template']['metadata']['labels']
    assert found[('Service', 'mlflow')]['spec']['selector'].items() <= labels.items()
    examples = {d['metadata']['name']: d for d in yaml.safe_load_all((K8S / 'secret.example.yaml').read_text())}
    assert examples['meteo-mlflow']['stringData']['url'].startswith('postgresql+psycopg://')
