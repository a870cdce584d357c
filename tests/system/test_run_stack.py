"""`make run`'s supervisor (scripts/run_stack.py): a killed child is restarted, and the log says so."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from copydetect.milvus_lite import free_port
from tests.services import PrivateRedis
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> dict[str, int]:
    """Direct children of `pid` by a short name taken from their command line."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for name in ("worker", "beat", "runserver", "milvus-lite"):
                if f" {name} " in f" {command} " or (name == "milvus-lite" and "milvus-lite" in command):
                    # The query worker consumes the `queries` queue alone.
                    found["query-worker" if " -Q queries " in f" {command} " else name] = int(child)
    return found


def test_a_killed_worker_and_a_killed_milvus_are_restarted_with_a_log_line(tmp_path):
    redis_server = PrivateRedis(tmp_path).start()
    log_path = tmp_path / "stack.log"
    env = {
        **os.environ,
        "ISC_DATA_DIR": str(tmp_path / "data"),
        "CELERY_BROKER_URL": redis_server.url,
        "MILVUS_URI": f"http://127.0.0.1:{free_port()}",
        "ISC_WEB_ADDRESS": f"127.0.0.1:{free_port()}",
        "ISC_WARM_UP": "0",
    }
    with open(log_path, "w") as log:
        stack = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_stack.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        first = wait_until(
            lambda: (
                (c := _children(stack.pid))
                and {"worker", "query-worker", "beat", "runserver", "milvus-lite"} <= set(c)
                and c
            ),
            timeout=120,
            what="every child to start",
            every=0.3,
        )
        os.kill(first["worker"], signal.SIGKILL)
        os.kill(first["milvus-lite"], signal.SIGKILL)
        second = wait_until(
            lambda: (
                (c := _children(stack.pid))
                and c.get("worker") not in (None, first["worker"])
                and c.get("milvus-lite") not in (None, first["milvus-lite"])
                and c
            ),
            timeout=120,
            what="the worker and Milvus to be started again",
            every=0.3,
        )
        assert stack.poll() is None, "the stack itself kept running"
        text = log_path.read_text()
        assert "» worker exited with -9; restarting it in 1 s" in text
        assert "» milvus-lite exited with -9; restarting it in 1 s" in text
        assert "» restarting worker" in text and "» restarting milvus-lite" in text
        assert second["runserver"] == first["runserver"], "the others were left alone"
        assert second["query-worker"] == first["query-worker"]
        # The bulk worker runs at a lower CPU priority than the query worker.
        assert os.getpriority(os.PRIO_PROCESS, second["worker"]) > os.getpriority(
            os.PRIO_PROCESS, second["query-worker"]
        )
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        try:
            os.killpg(stack.pid, signal.SIGKILL)  # anything a child left behind
        except ProcessLookupError:
            pass
        redis_server.stop()


@pytest.mark.skipif(
    os.environ.get("ISC_TEST_MILVUS") != "standalone",
    reason="starts Milvus standalone: runs in `make test-milvus` (ISC_TEST_MILVUS=standalone)",
)
def test_with_isc_milvus_standalone_the_real_server_is_supervised_and_keeps_its_password(tmp_path):
    from copydetect.vector_store import server_answers

    redis_server = PrivateRedis(tmp_path).start()
    milvus_port = free_port()
    env = {
        **os.environ,
        "ISC_MILVUS": "standalone",
        # run_stack.py imports copydetect: this checkout's, also where the venv's editable install is another's.
        "PYTHONPATH": str(ROOT),
        "ISC_DATA_DIR": str(tmp_path / "data"),
        "CELERY_BROKER_URL": redis_server.url,
        "MILVUS_URI": f"http://127.0.0.1:{milvus_port}",
        "ISC_WEB_ADDRESS": f"127.0.0.1:{free_port()}",
        "ISC_WARM_UP": "0",
    }
    env.pop("MILVUS_TOKEN", None)
    log_path = tmp_path / "stack.log"
    with open(log_path, "w") as log:
        stack = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_stack.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    password_file = tmp_path / "data" / "milvus-standalone" / "root-password"
    uri = f"http://127.0.0.1:{milvus_port}"

    def wrapper() -> int | None:
        for task in Path(f"/proc/{stack.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"copydetect.milvus_standalone" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
        return None

    try:
        first = wait_until(wrapper, timeout=120, what="the Milvus standalone child", every=0.3)
        token = f"root:{password_file.read_text().strip()}"
        wait_until(lambda: server_answers(uri=uri, token=token), timeout=180, what="the server to serve", every=1)
        assert not server_answers(uri=uri, token="root:Milvus"), "the default password was replaced"
        # run_stack supervises once everything has started (it waits for Milvus to sign in first): a kill before
        # that would race its start-up, not test its supervision.
        wait_until(lambda: "» open http" in log_path.read_text(), timeout=180, what="the stack to be up", every=0.5)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: wrapper() not in (None, first), timeout=120, what="a new Milvus child", every=0.3)
        # The server of the killed child went with it; the new one serves the same data and password.
        wait_until(lambda: server_answers(uri=uri, token=token), timeout=240, what="the restarted server", every=1)
        assert "» milvus-standalone exited with -9; restarting it in 1 s" in log_path.read_text()
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        try:
            os.killpg(stack.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        redis_server.stop()
