"""Templates and the small formatting helpers they use (times in the configured zone, durations).

A page is rendered whole, or, for a request carrying ``X-Pgflow-Fragment: 1``, as only its
``<main>`` content: the page script fetches that fragment and swaps it in on live updates.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from pgflow.errors import ConfigurationError
from pgflow.ops.runs import short_id

# What each stored status is called on screen, and a glyph so the label never relies on colour.
STATUS_LABELS = {
    "started": "running",
    "created": "waiting",
    "queued": "queued",
    "completed": "completed",
    "failed": "failed",
    "skipped": "skipped",
    "cancelled": "cancelled",  # a task of a failed run
    "healthy": "healthy",
    "stale": "stale",
    "dead": "dead",
    "stopped": "stopped",
    "scheduled": "scheduled",  # a started run or step whose tasks all wait until a later time
}
STATUS_ICONS = {
    "started": "\u25b6",    # ▶
    "created": "\u25cb",    # ○
    "queued": "\u25cb",
    "completed": "\u2713",  # ✓
    "failed": "\u2715",     # ✕
    "skipped": "\u21b7",    # ↷
    "cancelled": "\u2298",  # ⊘
    "healthy": "\u2713",
    "stale": "!",
    "dead": "\u2715",
    "stopped": "\u25a0",    # ■
    "scheduled": "\u25f7",  # ◷
}
JSON_LIMIT = 20_000


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown time zone {name!r} for the dashboard: use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from exc


def format_duration(seconds: float | None) -> str:
    """Compact durations: '45 ms', '1.5 s', '2.3 min', '1.2 h', '3.0 d'."""
    if seconds is None:
        return "\u2013"
    seconds = max(float(seconds), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def seconds_between(start: datetime | None, end: datetime | None, now: datetime | None = None) -> float | None:
    if start is None:
        return None
    end = end or now
    return None if end is None else (end - start).total_seconds()


def format_relative(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    delta = (now - value).total_seconds()
    future = delta < 0
    delta = abs(delta)
    if delta < 5:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if delta >= size:
            amount = f"{int(delta // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return ""  # pragma: no cover


def pretty_json(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > JSON_LIMIT:
        text = text[:JSON_LIMIT] + f"\n\u2026 ({len(text) - JSON_LIMIT:,} more characters not shown)"
    return text


class Renderer:
    """Jinja2 templates of pgflow/web/templates with the dashboard's filters and globals."""

    def __init__(self, *, timezone: str = "UTC", title: str = "pgflow", refresh_interval: float = 5.0,
                 live: bool = True) -> None:
        self.tz = zone(timezone)
        self.timezone = timezone
        self.env = Environment(
            loader=PackageLoader("pgflow.web", "templates"),
            autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            dt=self.format_time,
            duration=format_duration,
            short_id=short_id,
            json=pretty_json,
            number=lambda v: f"{int(v or 0):,}",
        )
        self.env.globals.update(
            status_label=lambda s: STATUS_LABELS.get(s, s or "unknown"),
            status_icon=lambda s: STATUS_ICONS.get(s, "?"),
            seconds_between=seconds_between,
            site_title=title,
            timezone=timezone,
            refresh_interval=refresh_interval,
            live_enabled=live,
            sse_path=None,
        )

    def format_time(self, value: datetime | None, with_date: bool = True) -> str:
        if value is None:
            return "\u2013"
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt_timezone.utc)
        local = value.astimezone(self.tz)
        return local.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")

    def page(self, request: Request, template: str, context: dict[str, Any], *, status_code: int = 200,
             live: str | None = "all") -> HTMLResponse:
        """Render ``template``; only its content block for fragment requests."""
        root = request.scope.get("root_path", "").rstrip("/")
        now = datetime.now(dt_timezone.utc)
        fragment = request.headers.get("x-pgflow-fragment") == "1"

        def url(path: str = "/", **query: Any) -> str:
            pairs = {k: v for k, v in query.items() if v not in (None, "", False)}
            return root + path + (("?" + urlencode(pairs)) if pairs else "")

        full = {
            **context,
            "request": request,
            "url": url,
            "root": root,
            "now": now,
            "ago": lambda v: format_relative(v, now),
            "fragment": fragment,
            "live": live,
            "exposed_without_auth": request.scope.get("pgflow_exposed_without_auth", False),
        }
        headers = {"Cache-Control": "no-store", "Vary": "X-Pgflow-Fragment"}
        return RenderedInThread(self.env.get_template(template), full, status_code=status_code, headers=headers)


class RenderedInThread(HTMLResponse):
    """An HTML page whose template is rendered in a worker thread when the response is sent, so a
    big page (a flow of 1,000 steps, a run of a large map) never holds up the event loop and the
    other requests behind it. ``body`` is empty until then."""

    def __init__(self, template: Any, context: dict[str, Any], *, status_code: int = 200,
                 headers: dict[str, str] | None = None) -> None:
        self.template = template
        self.context = context
        super().__init__(b"", status_code=status_code, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        html: str = await anyio.to_thread.run_sync(self.template.render, self.context)
        self.body = html.encode(self.charset)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.raw_headers.append((b"content-length", str(len(self.body)).encode("latin-1")))
        await super().__call__(scope, receive, send)


def window_choices() -> dict[str, timedelta]:
    """Time windows offered by the overview and the flow pages."""
    return {
        "1h": timedelta(hours=1),
        "24h": timedelta(hours=24),
        "7d": timedelta(days=7),
        "30d": timedelta(days=30),
    }
