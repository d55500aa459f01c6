"""pgflow.contrib.django in a real Django project (tests/integration/django/project): its own
pytest-django suite run as a real inner pytest, ``manage.py pgflow_worker`` as a real process,
and the startup error of a project without PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("django")
pytest.importorskip("pytest_django")

from pgflow import Client  # noqa: E402
from tests.helpers import eventually  # noqa: E402

PROJECT = Path(__file__).resolve().parent / "project"
ROOT = PROJECT.parents[3]


def _env(pg_admin_url: str, **more: str) -> dict[str, str]:
    env = dict(os.environ, SHOP_DATABASE_URL=pg_admin_url, DJANGO_SETTINGS_MODULE="shopsite.settings",
               PYTHONPATH=os.pathsep.join([str(PROJECT), str(ROOT)]), **more)
    for name in ("DATABASE_URL", "PGFLOW_DATABASE_URL"):
        env.pop(name, None)
    return env


# this venv's Python with the django-tasks backport; and, when PGFLOW_TEST_DJANGO6_PYTHON names the
# python of a Python 3.12+ venv with Django 6, pytest-django and pgflow-py installed, Django's own
# django.tasks there (docs/guides/django.md)
DJANGO6 = os.environ.get("PGFLOW_TEST_DJANGO6_PYTHON")
PYTHONS = [(sys.executable, "1"), *([(DJANGO6, "0")] if DJANGO6 else [])]


@pytest.mark.parametrize(("python", "backport"), PYTHONS, ids=["backport", "django6"][:len(PYTHONS)])
def test_the_projects_pytest_django_suite_passes(pg_admin_url: str, python: str, backport: str) -> None:
    env = _env(pg_admin_url, SHOP_DATABASE_NAME=f"shop_{uuid.uuid4().hex[:8]}", SHOP_TASKS_BACKPORT=backport)
    done = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:pgflow"],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    inner_tests = sum(line.startswith("def test_") for line in
                      (PROJECT / "shop_tests" / "test_shop.py").read_text().splitlines())
    assert f"{inner_tests} passed" in done.stdout, done.stdout[-2000:]  # none skipped


def test_manage_py_pgflow_install_and_worker_run_the_apps_flows(db_url: str, tmp_path: Path) -> None:
    from psycopg.conninfo import conninfo_to_dict

    env = _env(db_url, SHOP_DATABASE_NAME=str(conninfo_to_dict(db_url)["dbname"]))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT, env=env, check=True, timeout=120)
    installed = subprocess.run([sys.executable, "manage.py", "pgflow_install"], cwd=PROJECT, env=env,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0 and "compiled 1 flow" in installed.stdout, installed.stderr
    with Client(db_url) as client:
        run_id = client.start_flow("shop_checkout", {"lines": [1, 2, 3]})
        with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
            worker = subprocess.Popen([sys.executable, "manage.py", "pgflow_worker", "--concurrency", "4"],
                                      cwd=PROJECT, env=env, stdout=out, stderr=err)
        try:
            eventually(lambda: client.get_run(run_id).status == "completed", timeout=60,
                       message="manage.py pgflow_worker completes the run")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        assert client.get_run(run_id).output["total"]["total"] == 600
    banner = (tmp_path / "out").read_text()
    assert "shop_checkout" in banner and "django_tasks" in banner


def test_a_project_without_postgresql_stops_at_startup_saying_so(pg_admin_url: str) -> None:
    env = _env(pg_admin_url, SHOP_DATABASE_ENGINE="django.db.backends.sqlite3")
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "pgflow-py needs PostgreSQL, but DATABASES['default'] uses django.db.backends.sqlite3" in done.stderr
