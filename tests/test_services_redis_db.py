from tests.services import worker_redis_db


def test_each_parallel_worker_takes_its_own_redis_database(monkeypatch):
    monkeypatch.delenv("ISC_TEST_REDIS_DB", raising=False)
    numbers = []
    for worker in ("gw0", "gw1", "gw2", "gw3"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        numbers.append(worker_redis_db())
    assert numbers == [15, 14, 13, 12]


def test_a_second_run_on_the_machine_counts_down_from_its_own_base(monkeypatch):
    monkeypatch.setenv("ISC_TEST_REDIS_DB", "7")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert worker_redis_db() == 7
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert worker_redis_db() == 6
