"""The archive client against the stand-in: chunked downloads and every fault the issue lists."""
import datetime as dt
import numpy as np
import pytest

from meteo_forecast.config import PARIS
from meteo_forecast.openmeteo import ArchiveClient, OpenMeteoError
from meteo_forecast.standin import Fault


def test_paris_history_comes_down_in_yearly_chunks(client, archive, paris_frames):
    df = client.hourly(PARIS, dt.date(2014, 1, 1), dt.date(2024, 12, 31), progress=False)
    assert len(df) == 96_432
    assert [(q['start_date'], q['end_date']) for q in archive.requests] == \
        [(f'{y}-01-01', f'{y}-12-31') for y in range(2014, 2025)]
    assert {q['timezone'] for q in archive.requests} == {'GMT'}
    assert {q['models'] for q in archive.requests} == {'best_match'}   # the fresh source
    np.testing.assert_allclose(df.temperature_2m.to_numpy(), paris_frames[0].temperature_2m.to_numpy())
    multi = paris_frames[1]
    np.testing.assert_allclose(df.pressure_msl.loc[multi.index].to_numpy(), multi.pressure_msl.to_numpy())
    assert df.dew_point_2m.isna().all()       # neither file has it: the stand-in answers null


def test_the_client_reads_its_endpoint_from_the_environment(archive):
    assert ArchiveClient().base_url == archive.url


def test_400_carries_the_api_reason(client):
    with pytest.raises(OpenMeteoError) as e:
        client.get(PARIS, dt.date(1939, 12, 31), dt.date(1940, 1, 2))
    assert e.value.status == 400
    assert e.value.reason == "Parameter 'start_date' is out of allowed range from 1940-01-01 to 2026-11-22"
    assert 'out of allowed range' in str(e.value)


def test_minutely_429_waits_as_the_reason_says_then_succeeds(client, archive, waits):
    archive.faults.append(Fault(429, 'Minutely API request limit exceeded. Please try again in one minute.'))
    assert len(client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 2))['hourly']['time']) == 48
    assert waits == [60.0]
    assert len(archive.requests) == 2


def test_retry_after_header_wins_over_the_reason(client, archive, waits):
    archive.faults.append(Fault(429, 'Too many requests', headers={'Retry-After': '5'}))
    client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert waits == [5.0]


def test_hourly_or_daily_429_raises_instead_of_hammering(client, archive, waits):
    archive.faults.append(Fault(429, 'Daily API request limit exceeded. Please try again tomorrow.'))
    with pytest.raises(OpenMeteoError, match='tomorrow') as e:
        client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert e.value.status == 429 and waits == [] and len(archive.requests) == 1


def test_repeated_429_gives_up_after_a_few_waits(archive, waits):
    archive.faults.extend([Fault(429, 'Minutely API request limit exceeded. Please try again in one minute.')] * 5)
    c = ArchiveClient(archive.url, rate_limit_waits=2, sleep=waits.append)
    with pytest.raises(OpenMeteoError, match='rate limit'):
        c.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert waits == [60.0, 60.0]


def test_500_then_success(client, archive):
    archive.faults.append(Fault(500, 'Internal Server Error'))
    assert len(client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))['hourly']['time']) == 24
    assert len(archive.requests) == 2


def test_persistent_5xx_is_a_clear_error(client, archive):
    archive.faults.extend([Fault(503, 'Service Unavailable')] * 3)
    with pytest.raises(OpenMeteoError, match='HTTP 503.*Service Unavailable') as e:
        client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert e.value.status == 503


def test_a_timeout_is_retried(client, archive):
    archive.faults.append(Fault(delay=1.5))
    assert len(client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))['hourly']['time']) == 24


def test_a_server_that_stays_silent_is_a_clear_error(client, archive):
    archive.faults.extend([Fault(delay=1.5)] * 3)
    with pytest.raises(OpenMeteoError, match='after 2 retries'):
        client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))


def test_truncated_body_is_retried(client, archive):
    archive.faults.append(Fault(truncate=True))
    assert len(client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))['hourly']['time']) == 24


@pytest.mark.parametrize('body', [b'<html><body>Maintenance</body></html>', b'{"hourly": {"time": ["2024-01-01T00:00"'])
def test_non_json_body_every_time_is_a_clear_error(client, archive, body):
    archive.faults.extend([Fault(body=body)] * 3)
    with pytest.raises(OpenMeteoError, match='unreadable answer'):
        client.get(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1))


def test_nulls_inside_the_series_come_back_as_nan(archive, client):
    frame = archive.places[0][1]
    frame.loc['2024-03-01 10:00':'2024-03-01 12:00', 'temperature_2m'] = np.nan
    df = client.hourly(PARIS, dt.date(2024, 3, 1), dt.date(2024, 3, 1), progress=False)
    assert df.temperature_2m.isna().sum() == 3
    assert df.temperature_2m.loc['2024-03-01 10:00':'2024-03-01 12:00'].isna().all()


def test_a_short_answer_is_refused(archive, client):
    "An answer that does not cover the hours asked for is an error, not a silently shorter series."
    real = archive.answer

    def five_hours_short(query):
        status, body = real(query)
        return status, {**body, 'hourly': {k: v[:-5] for k, v in body['hourly'].items()}}

    archive.answer = five_hours_short
    with pytest.raises(OpenMeteoError, match='covers 19 hours'):
        client.hourly(PARIS, dt.date(2024, 1, 1), dt.date(2024, 1, 1), progress=False)


def test_a_source_that_starts_later_is_asked_only_for_the_days_it_holds(client, archive, caplog):
    "The archive's 400 names its allowed range: the download keeps to it, says so once, and records the first day."
    archive.first_day = dt.date(2021, 6, 1)
    with caplog.at_level('WARNING', logger='meteo_forecast'):
        df = client.hourly(PARIS, dt.date(2019, 6, 17), dt.date(2022, 12, 31), progress=False)
    assert (str(df.index[0]), str(df.index[-1])) == ('2021-06-01 00:00:00+00:00', '2022-12-31 23:00:00+00:00')
    assert len(df) == (dt.date(2023, 1, 1) - dt.date(2021, 6, 1)).days * 24 and df.temperature_2m.notna().all()
    assert df.attrs['first_available'] == dt.date(2021, 6, 1)
    assert [(q['start_date'], q['end_date']) for q in archive.requests] == \
        [('2019-06-17', '2019-12-31'), ('2021-06-01', '2021-12-31'), ('2022-01-01', '2022-12-31')]
    warned = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
    assert len(warned) == 1 and 'starts on 2021-06-01' in warned[0], warned


def test_a_range_wholly_before_the_first_day_comes_back_empty(client, archive):
    archive.first_day = dt.date(2021, 6, 1)
    df = client.hourly(PARIS, dt.date(2020, 1, 1), dt.date(2020, 12, 31), progress=False)
    assert df.empty and list(df.columns) == list(client.params(PARIS, dt.date(2020, 1, 1), dt.date(2020, 1, 1))['hourly'].split(','))
    assert df.attrs['first_available'] == dt.date(2021, 6, 1) and len(archive.requests) == 1


def test_an_archive_that_refuses_the_range_it_named_is_an_error(client, archive):
    archive.faults.extend([Fault(400, "Parameter 'start_date' is out of allowed range from 2021-06-01 to 2026-11-22"),
                           Fault(400, "Parameter 'start_date' is out of allowed range from 2022-01-01 to 2026-11-22")])
    with pytest.raises(OpenMeteoError, match='out of allowed range from 2022-01-01'):
        client.hourly(PARIS, dt.date(2021, 1, 1), dt.date(2021, 12, 31), progress=False)
    assert len(archive.requests) == 2
