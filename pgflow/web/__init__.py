"""The web dashboard and the Server-Sent Events endpoint (extra: ``pip install 'pgflow-py[web]'``).

    from pgflow.web import create_app
    app.mount("/pgflow", create_app(client, auth=my_auth_hook))

See docs/guides/dashboard.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["basic_auth", "create_app"]


def _missing(exc: ImportError) -> Exception:
    from pgflow.errors import ConfigurationError

    return ConfigurationError(
        f"the pgflow dashboard needs the web extra ({exc.name or exc} is missing): "
        "pip install 'pgflow-py[web]'"
    )


def create_app(client: Any = None, **options: Any) -> Any:
    """The dashboard as a Starlette app; see :func:`pgflow.web.app.create_app` for the options."""
    try:
        from pgflow.web.app import create_app as _create_app
    except ImportError as exc:
        raise _missing(exc) from exc
    return _create_app(client, **options)


def basic_auth(username: str, password: str, realm: str = "pgflow") -> Any:
    """An auth hook for :func:`create_app` that asks for HTTP Basic credentials."""
    try:
        from pgflow.web.auth import basic_auth as _basic_auth
    except ImportError as exc:
        raise _missing(exc) from exc
    return _basic_auth(username, password, realm)
