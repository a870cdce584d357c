"""Settings: typed, read once from the environment, a bad value stops start-up with the variable's name,
and the README's configuration table lists exactly the variables the code reads."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from isc_site import env
from isc_site.isc import IscSettings, isc_settings_read

REPO = Path(__file__).resolve().parents[2]
# Where configuration is read: the settings, the health and liveness commands, and `make run`'s supervisor.
READERS = [*sorted((REPO / "isc_site").glob("*.py")), REPO / "scripts" / "run_stack.py"]
ENV_CALLS = {"env_str", "env_int", "env_float", "env_bool", "env_choice", "env_list", "env_path"}
# Read by the process machinery or the test suite itself, not configuration of the platform.
NOT_CONFIGURATION = {"DJANGO_SETTINGS_MODULE"}


def variables_read() -> set[str]:
    names = set()
    for path in READERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            function = node.func
            called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
            environ_get = (
                called in ("get", "setdefault")
                and isinstance(function, ast.Attribute)
                and isinstance(function.value, ast.Attribute)
                and function.value.attr == "environ"
            )
            if called in ENV_CALLS or environ_get:
                names.add(first.value)
    return {name for name in names if not name.startswith("ISC_TEST_")} - NOT_CONFIGURATION


def variables_documented() -> set[str]:
    text = (REPO / "README.md").read_text()
    table = text.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_the_readme_table_lists_exactly_the_variables_the_code_reads():
    read, documented = variables_read(), variables_documented()
    assert read, "the scan found the settings' variables"
    assert read - documented == set(), "read but missing from the README's configuration table"
    assert documented - read == set(), "in the README's table but read nowhere"


def test_every_platform_setting_comes_from_its_own_variable():
    names = {name for name in variables_read() if name.startswith("ISC_")}
    fields = {field.name for field in dataclasses.fields(IscSettings)}
    # MILVUS_URI / MILVUS_TOKEN keep the names Milvus' own tools use.
    assert {f"ISC_{name.upper()}" for name in fields} - {"ISC_MILVUS_URI", "ISC_MILVUS_TOKEN"} <= names


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ISC_LOGIN_THROTTLE", "ture", "ISC_LOGIN_THROTTLE='ture': not a boolean"),
        ("ISC_REGION_CANDIDATES", "maybe", "ISC_REGION_CANDIDATES='maybe': not a boolean"),
        ("ISC_SEARCH_TOP_K", "0", "ISC_SEARCH_TOP_K=0: must be at least 1"),
        ("ISC_DEFAULT_THRESHOLD", "1.5", "ISC_DEFAULT_THRESHOLD=1.5: must be at most 1.0"),
        ("ISC_MAX_ATTEMPTS", "three", "ISC_MAX_ATTEMPTS='three': not a whole number"),
        ("ISC_WEBHOOK_TIMEOUT_SECONDS", "nan", "ISC_WEBHOOK_TIMEOUT_SECONDS='nan': not a finite number"),
        ("ISC_VERIFIER", "orb", "ISC_VERIFIER='orb': must be one of sift, learned, sift+learned"),
        ("ISC_TASK_NAMES", "old", "ISC_TASK_NAMES='old': must be one of current, legacy"),
    ],
)
def test_a_bad_value_stops_start_up_with_the_variable_name(variable, value, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]


def test_booleans_accept_the_usual_words_and_nothing_else(monkeypatch):
    for word, expected in [("1", True), ("TRUE", True), ("yes", True), ("On", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("ISC_SOME_FLAG", word)
        assert env.env_bool("ISC_SOME_FLAG", not expected) is expected
    monkeypatch.setenv("ISC_SOME_FLAG", "")
    assert env.env_bool("ISC_SOME_FLAG", True) is True, "empty means the default"
    monkeypatch.setenv("ISC_SOME_FLAG", "y")
    with pytest.raises(ImproperlyConfigured, match="ISC_SOME_FLAG"):
        env.env_bool("ISC_SOME_FLAG", True)


def test_the_object_is_typed_frozen_and_read_once(settings, monkeypatch, tmp_path):
    isc = settings.ISC
    assert isinstance(isc, IscSettings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        isc.max_attempts = 5
    monkeypatch.setenv("ISC_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("ISC_QUERY_VIEWS", "full, centre")
    read = isc_settings_read(base_dir=tmp_path, data_dir=tmp_path, worker_concurrency=1)
    assert (read.max_attempts, read.query_views) == (7, ("full", "centre"))
    assert settings.ISC.max_attempts == isc.max_attempts, "the running settings do not change under it"
    assert isc.replace(max_attempts=9).max_attempts == 9 and isc.max_attempts != 9
