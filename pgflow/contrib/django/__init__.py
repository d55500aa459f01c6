"""pgflow-py in a Django project: ``INSTALLED_APPS += ["pgflow.contrib.django"]``.

- The database is one of ``DATABASES`` (``PGFLOW = {"DATABASE": "default"}``), which must be
  PostgreSQL: any other engine stops the project at startup with a message saying so.
- Flows and jobs declared in the installed apps' ``flows`` and ``jobs`` modules are discovered
  (``PGFLOW = {"MODULES": ["flows", "jobs"]}``): ``manage.py pgflow_worker`` runs them and
  ``manage.py pgflow_install`` installs the schema and compiles them.
- :func:`start_flow` and :func:`enqueue` start a run on Django's own connection, inside the current
  transaction: the run exists only if that transaction commits (with psycopg 3; with psycopg2 the
  start waits for ``transaction.on_commit``).
- A backend for Django's tasks framework (``django.tasks``, or the ``django_tasks`` backport):
  ``TASKS = {"default": {"BACKEND": "pgflow.contrib.django.tasks.PgflowBackend"}}``; ``@task``
  functions are enqueued as runs of a pgflow job that ``pgflow_worker`` runs.
- Read-only admin pages for runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pgflow.errors import ConfigurationError, MissingExtra

try:
    import django  # noqa: F401
    from django.core.exceptions import ImproperlyConfigured
except ImportError as exc:
    raise MissingExtra("the Django integration", "django", "Django") from exc

if TYPE_CHECKING:
    from pgflow.client import Client
    from pgflow.types import FlowRef, Json

DEFAULT_MODULES = ("flows", "jobs")
_POSTGRES_ENGINES = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")
# libpq parameters that Django's OPTIONS may carry for the connection itself
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name",
                  "options", "target_session_attrs", "service", "passfile", "channel_binding")


class DjangoConfigurationError(ConfigurationError, ImproperlyConfigured):
    """The Django settings do not give pgflow-py what it needs (a PostgreSQL database)."""


def settings() -> dict[str, Any]:
    """``settings.PGFLOW`` with its defaults: ``DATABASE`` (an alias of DATABASES), ``MODULES``."""
    from django.conf import settings as django_settings

    given = getattr(django_settings, "PGFLOW", None) or {}
    return {"DATABASE": given.get("DATABASE", "default"), "MODULES": tuple(given.get("MODULES", DEFAULT_MODULES))}


def check_database() -> str:
    """The alias of the database pgflow uses, after checking it is PostgreSQL."""
    from django.db import connections

    alias = settings()["DATABASE"]
    if alias not in connections.settings:
        raise DjangoConfigurationError(f"PGFLOW['DATABASE'] is {alias!r}, which is not in DATABASES "
                                       f"({', '.join(connections.settings) or 'none'}); name a PostgreSQL database")
    engine = connections.settings[alias].get("ENGINE", "")
    if engine not in _POSTGRES_ENGINES:
        raise DjangoConfigurationError(
            f"pgflow-py needs PostgreSQL, but DATABASES[{alias!r}] uses {engine or 'no ENGINE'}; set its ENGINE "
            f"to 'django.db.backends.postgresql' (or point PGFLOW['DATABASE'] at a PostgreSQL database)")
    return alias


def database_url(alias: str | None = None) -> str:
    """The libpq connection string of a Django database (the pgflow one by default); it follows
    the test database's name under Django's test runner and pytest-django."""
    from django.db import connections
    from psycopg.conninfo import make_conninfo

    alias = alias or check_database()
    params = connections[alias].settings_dict
    parts: dict[str, Any] = {"dbname": params.get("NAME") or "postgres", "user": params.get("USER") or None,
                             "password": params.get("PASSWORD") or None, "host": params.get("HOST") or None,
                             "port": str(params["PORT"]) if params.get("PORT") else None}
    options = params.get("OPTIONS") or {}
    parts.update({k: str(v) for k, v in options.items() if k in _LIBPQ_OPTIONS})
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


_clients: dict[str, Client] = {}


def get_client() -> Client:
    """A :class:`pgflow.Client` on the pgflow database (one per process and database URL)."""
    from pgflow.client import Client

    url = database_url()
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = Client(url, max_size=4)
    return client


def uses_orm(handler: Any) -> Any:
    """Decorate a sync handler that uses the ORM: the worker thread's Django connections are
    closed around each call when unusable or past CONN_MAX_AGE, as Django does around a request
    (a worker's threads otherwise keep a connection each). Put it under the step decorator::

        @checkout.step(depends_on=[price])
        @uses_orm
        def total(deps): ...
    """
    import functools

    from django.db import close_old_connections

    @functools.wraps(handler)
    def call(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return handler(*args, **kwargs)
        finally:
            close_old_connections()

    return call


def close() -> None:
    """Close the clients :func:`get_client` opened (before a test database is dropped, say)."""
    while _clients:
        _, client = _clients.popitem()
        client.close()


def start_flow(flow: FlowRef, input: Json, *, scheduled_at: datetime | None = None,
               delay_seconds: float | timedelta | None = None, priority: int | None = None) -> UUID | None:
    """Start a run that exists only if the current Django transaction commits; returns its id.

    The run is written on Django's own connection (psycopg 3, which Django uses whenever it is
    installed, as it is with pgflow-py), in the current transaction: rolled back with it, and
    committed at once outside ``atomic``. Were Django on psycopg2, the start would wait for
    ``transaction.on_commit`` (and return None: the id is not known yet). ``scheduled_at`` /
    ``delay_seconds``: the first task is due then, as with ``client.enqueue``. ``priority``
    (0-1000) as with ``client.start_flow``.
    """
    import psycopg
    from django.db import connections, transaction

    from pgflow.db import drive_sync
    from pgflow.ops import runs

    alias = check_database()
    connection = connections[alias]
    connection.ensure_connection()
    if scheduled_at is None and delay_seconds is None:
        operation = runs.start_flow(flow, input, priority=priority)
    else:
        operation = runs.enqueue(flow, input, delay_seconds, scheduled_at, priority=priority)
    if isinstance(connection.connection, psycopg.Connection):
        if not connection.in_atomic_block:
            started: UUID = drive_sync(connection.connection, operation)  # Django's autocommit: at once
            return started
        # a savepoint of Django's own makes its transaction begin (the start then joins it, and
        # not commits it), and a failed start leaves the rest of the transaction usable
        savepoint = getattr(transaction, "savepoint_create", transaction.savepoint)(using=alias)  # 6.1 renamed it
        try:
            run_id: UUID = drive_sync(connection.connection, operation)
        except BaseException:
            transaction.savepoint_rollback(savepoint, using=alias)
            raise
        transaction.savepoint_commit(savepoint, using=alias)
        return run_id
    transaction.on_commit(lambda: get_client().enqueue(flow, input, delay_seconds, scheduled_at, priority=priority),
                          using=alias)
    return None


enqueue = start_flow
"""A job's run: the same as :func:`start_flow` (``enqueue(job, input, delay_seconds=60)``)."""


def discover() -> tuple[list[str], list[Any]]:
    """The modules named by ``PGFLOW['MODULES']`` in every installed app, imported, and the
    flows and jobs they define (module paths for ``pgflow worker``, flow objects)."""
    from importlib import import_module

    from django.apps import apps
    from django.utils.module_loading import module_has_submodule

    from pgflow.dsl.flow import Flow

    modules: list[str] = []
    flows: list[Any] = []
    for config in apps.get_app_configs():
        for name in settings()["MODULES"]:
            if config.name == __name__ or config.module is None or not module_has_submodule(config.module, name):
                continue
            path = f"{config.name}.{name}"
            found = [v for v in vars(import_module(path)).values() if isinstance(v, Flow) and v not in flows]
            if found:
                modules.append(path)
                flows.extend(found)
    return modules, flows


def pgflow_jobs() -> list[Any]:
    """The pgflow job that runs Django tasks, when a backend of TASKS is pgflow's (else none)."""
    from django.conf import settings as django_settings

    backends = getattr(django_settings, "TASKS", None) or {}
    if not any(str(b.get("BACKEND", "")).startswith("pgflow.contrib.django") for b in backends.values()):
        return []
    from pgflow.contrib.django.jobs import django_tasks

    return [django_tasks]
