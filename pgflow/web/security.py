"""What every request to the dashboard (and the stand-alone SSE app) goes through.

``Guard`` wraps an ASGI app and, in this order:

1. refuses a path or query that holds a NUL byte or bytes that are not UTF-8 (400): PostgreSQL
   cannot store NUL in text, so such input would otherwise end as a database error;
2. checks the ``Host`` header: without an auth hook only loopback names (``localhost``,
   127.0.0.0/8, ``[::1]``, any port) are served, unless ``allowed_hosts`` names more. A page on
   an attacker's site can point its own domain name at 127.0.0.1 (DNS rebinding) and then read
   a dashboard served on localhost as if it were its own origin; the ``Host`` it sends is still
   the attacker's name, so refusing unknown names closes that door. With an auth hook, the hook
   decides (``allowed_hosts``, when given, still applies);
3. asks the auth hook (see :mod:`pgflow.web.auth`);
4. adds security headers to every response: a Content-Security-Policy, ``nosniff``, no framing,
   and a same-origin referrer policy.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from jinja2 import Environment
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgflow.errors import ConfigurationError
from pgflow.web.auth import WARNING, AuthHook, is_loopback, refusal

log = logging.getLogger("pgflow.web")

ANY_HOST = "*"

# The stand-alone SSE app serves no HTML: nothing may load, nothing may frame it.
STREAM_CSP = "default-src 'none'; frame-ancestors 'none'"

_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)


def host_name(header: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:8088`` -> ``::1``, ``Example.com:80`` -> ``example.com``."""
    header = header.strip().lower()
    if header.startswith("["):
        inner, closed, rest = header[1:].partition("]")
        return inner if closed and (not rest or rest.startswith(":")) else header
    if header.count(":") == 1:
        header = header.partition(":")[0]
    return header.rstrip(".")


def is_loopback_host(name: str) -> bool:
    """``localhost`` or a loopback address; the test clients' made-up names do not count here."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_hosts(hosts: Iterable[str] | None) -> frozenset[str] | None:
    if hosts is None:
        return None
    if isinstance(hosts, str):
        raise ConfigurationError(f"allowed_hosts takes a list of host names, e.g. [{hosts!r}], not a string")
    return frozenset(host_name(h) if h != ANY_HOST else h for h in hosts)


def undecodable(scope: Scope) -> bool:
    """Whether the path or a query parameter holds a NUL byte or bytes that are not UTF-8."""
    if "\x00" in scope.get("path", ""):
        return True
    parts = [scope.get("raw_path") or b""]
    for pair in (scope.get("query_string") or b"").split(b"&"):
        parts += pair.replace(b"+", b" ").split(b"=", 1)
    try:
        return any("\x00" in unquote_to_bytes(part).decode("utf-8") for part in parts)
    except UnicodeDecodeError:
        return True


def inline_script_hashes(env: Environment) -> list[str]:
    """The CSP source of every inline ``<script>`` in the templates, hashed from their text.

    Computed when the app is built, so editing an inline script changes its hash with it. A
    script whose text holds template syntax cannot be hashed in advance: that is refused.
    """
    assert env.loader is not None
    hashes: list[str] = []
    for name in sorted(env.list_templates()):
        source = env.loader.get_source(env, name)[0]
        for match in _INLINE_SCRIPT.finditer(source):
            if re.search(r"\bsrc\s*=", match["attrs"]):
                continue
            body = match["body"]
            if any(mark in body for mark in ("{{", "{%", "{#")):
                raise ConfigurationError(
                    f"the inline <script> of template {name} holds template syntax, so the Content-Security-Policy "
                    "cannot allow it by hash: move the value to a data- attribute or the script to static/")
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            source_ = f"'sha256-{digest}'"
            if source_ not in hashes:
                hashes.append(source_)
    return hashes


def page_csp(script_hashes: Iterable[str]) -> str:
    """The dashboard pages' policy: own scripts and the hashed inline ones only; no framing."""
    scripts = " ".join(["'self'", *script_hashes])
    # style-src allows inline style attributes: the progress bars set their width with one
    return ("default-src 'self'; "
            f"script-src {scripts}; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; "
            "connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }


def guard(auth: AuthHook | None, allowed_hosts: Iterable[str] | None, csp: str) -> Middleware:
    """The :class:`Guard` of an app (a bad ``allowed_hosts`` is an error now, not at the first request)."""
    return Middleware(Guard, auth=auth, allowed_hosts=normalize_hosts(allowed_hosts), csp=csp)


class Guard:
    """Input check, Host check, auth hook and security headers, for every HTTP request."""

    def __init__(self, app: ASGIApp, *, auth: AuthHook | None, allowed_hosts: Iterable[str] | None,
                 csp: str) -> None:
        self.app = app
        self.hook = auth
        self.allowed_hosts = normalize_hosts(allowed_hosts)
        self.headers = security_headers(csp)
        self.warned = False
        self.refused_once = False

    def host_allowed(self, name: str) -> bool:
        if self.allowed_hosts is None:
            return self.hook is not None or is_loopback_host(name)
        return is_loopback_host(name) or ANY_HOST in self.allowed_hosts or name in self.allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    headers.setdefault(key, value)
            await send(message)

        if undecodable(scope):
            response: Any = PlainTextResponse(
                "Bad request: the path or query holds a NUL byte or bytes that are not UTF-8.", status_code=400)
            await response(scope, receive, send_secured)
            return
        request = Request(scope)
        host = request.headers.get("host")
        name = host_name(host) if host is not None else None
        if name is not None and not self.host_allowed(name):
            log.log(logging.DEBUG if self.refused_once else logging.WARNING,
                    "pgflow dashboard: refused a request for host %r (not a loopback name; see allowed_hosts)", name)
            self.refused_once = True
            response = PlainTextResponse(
                f"This dashboard does not answer to the host name {name!r}: open it as localhost or 127.0.0.1, "
                "or let its owner add an auth hook or list the name in allowed_hosts.", status_code=403)
            await response(scope, receive, send_secured)
            return
        if self.hook is None:
            client = request.client.host if request.client else None
            if not (is_loopback(client) and (name is None or is_loopback_host(name))):
                scope["pgflow_exposed_without_auth"] = True
                if not self.warned:
                    self.warned = True
                    log.warning(WARNING.format(where=f"request from {client} for host {name}"))
        else:
            response = await refusal(self.hook, request)
            if response is not None:
                await response(scope, receive, send_secured)
                return
        await self.app(scope, receive, send_secured)
