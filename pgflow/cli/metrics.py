"""``pgflow metrics``: a small Prometheus exporter of a pgflow database.

    pgflow metrics --port 9464            # http://127.0.0.1:9464/metrics

Each scrape reads what changed in the database since the previous one (see :mod:`pgflow.metrics`);
scrapes are served one at a time on one connection, opened again if it is lost.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import click
import psycopg

from pgflow.cli.common import database_option, dsn_for, fail, main_group
from pgflow.errors import MissingExtra, PgFlowError


@main_group.command("metrics")
@database_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the metrics to the network; they need no password).")
@click.option("--port", default=9464, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def metrics_command(database_url: str | None, host: str, port: int) -> None:
    """Serve Prometheus metrics of the database at http://HOST:PORT/metrics until SIGINT/SIGTERM."""
    from pgflow.metrics import CONTENT_TYPE, Metrics

    try:
        metrics = Metrics()
    except MissingExtra as exc:
        fail(str(exc))
    dsn = dsn_for(database_url)
    scraper = _Scraper(dsn, metrics)
    try:
        scraper.scrape()  # fail now, with the reason, if the database cannot be read
    except (PgFlowError, psycopg.Error) as exc:
        fail(f"cannot read the pgflow database: {exc}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            try:
                body = scraper.scrape()
            except (PgFlowError, psycopg.Error) as exc:
                self.send_error(503, f"the database cannot be read: {exc}")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            return  # one line per scrape would drown the output

    server = HTTPServer((host, port), Handler)
    click.echo(f"pgflow metrics at http://{host}:{server.server_address[1]}/metrics", err=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        scraper.close()


class _Scraper:
    def __init__(self, dsn: str, metrics: Any) -> None:
        self._dsn = dsn
        self._metrics = metrics
        self._conn: psycopg.Connection[Any] | None = None

    def scrape(self) -> bytes:
        from pgflow.db import drive_sync
        from pgflow.db.dsn import connect_options

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True, **connect_options(self._dsn))
        try:
            self._metrics.apply(drive_sync(self._conn, self._metrics.operation()))
        except BaseException:
            self.close()  # a fresh connection next time
            raise
        data: bytes = self._metrics.render()
        return data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
