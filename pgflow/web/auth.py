"""The dashboard's auth hook and the warning for a dashboard open to the network without one.

:class:`pgflow.web.security.Guard` asks the hook, for the dashboard and the stand-alone SSE app.

``auth`` is a callable taking the Starlette ``Request`` (sync or async). Its answer decides:

- ``True``: the request is served;
- ``False``: 403 Forbidden (known user, not allowed);
- ``None``: 401 Unauthorized (nobody logged in);
- a Starlette ``Response``: sent as-is (e.g. a redirect to your login page).

Anything else is refused, so a hook that forgets to return denies rather than allows.
"""

from __future__ import annotations

import base64
import hmac
import inspect
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, Union

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

AuthResult = Union[bool, None, Response]
AuthHook = Callable[[Request], Union[AuthResult, Awaitable[AuthResult]]]

WARNING = (
    "\n"
    "  !!! pgflow dashboard: NO AUTHENTICATION, and it is reachable beyond localhost ({where}).\n"
    "  !!! Anyone who can reach it sees every flow, run input and output, error and worker.\n"
    "  !!! Pass auth=... to pgflow.web.create_app (or set $PGFLOW_DASHBOARD_BASIC_AUTH for\n"
    "  !!! `pgflow dashboard`), or serve it on 127.0.0.1 only.\n"
)

_LOCAL_NAMES = {"localhost", "testserver", "testclient", ""}


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1, 'localhost' (and the test clients' names)."""
    if host is None:
        return True
    name = host.strip("[]").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_exposed_bind(host: str) -> bool:
    """Whether binding to ``host`` makes the server reachable from other machines."""
    return not is_loopback(host)


def basic_auth(username: str, password: str, realm: str = "pgflow") -> AuthHook:
    """An auth hook checking HTTP Basic credentials (use it behind HTTPS)."""
    expected = f"{username}:{password}".encode()
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}

    def check(request: Request) -> AuthResult:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic" and token:
            try:
                given = base64.b64decode(token.strip(), validate=True)
            except ValueError:
                given = b""
            if hmac.compare_digest(given, expected):
                request.state.user = username  # who acts, for the audit of dashboard actions
                return True
        return PlainTextResponse("Log in to see the pgflow dashboard.", status_code=401, headers=challenge)

    return check


async def refusal(hook: AuthHook, request: Request) -> Response | None:
    """None when ``hook`` lets ``request`` through, else the response refusing it."""
    verdict = hook(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    if verdict is True:
        return None
    if isinstance(verdict, Response):
        return verdict
    if verdict is False:
        return PlainTextResponse("You are not allowed to see the pgflow dashboard.", status_code=403)
    return PlainTextResponse("Log in to see the pgflow dashboard.", status_code=401)
