"""``pgflow dashboard``: serve the web dashboard with uvicorn."""

from __future__ import annotations

import click

from pgflow.cli.common import database_option, dsn_for, fail, main_group

DEFAULT_PORT = 8088


@main_group.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the dashboard to the network: set "
                   "$PGFLOW_DASHBOARD_BASIC_AUTH).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option("--base-path", default="", metavar="PATH", help="Serve under this path, e.g. /pgflow (behind a proxy).")
@click.option("--timezone", default="UTC", show_default=True, help="Time zone of the times shown (IANA name).")
@click.option("--basic-auth", envvar="PGFLOW_DASHBOARD_BASIC_AUTH", default=None, metavar="USER:PASSWORD",
              help="Require HTTP Basic credentials. Prefer $PGFLOW_DASHBOARD_BASIC_AUTH: a command line "
                   "is visible to every user of the machine (ps).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Without --basic-auth, also answer requests for this host name (repeatable; '*' for any), "
                   "e.g. behind your own authenticating proxy. Only loopback names are served otherwise.")
@click.option("--refresh", default=5.0, show_default=True, type=float,
              help="Seconds between refreshes when live events cannot be streamed.")
@click.option("--allow-actions", is_flag=True,
              help="Without --basic-auth, offer cancel / retry / resume buttons to requests from this machine "
                   "(refused with a --host beyond loopback). With --basic-auth they are on anyway.")
def dashboard(database_url: str | None, host: str, port: int, base_path: str, timezone: str,
              basic_auth: str | None, allowed_hosts: tuple[str, ...], refresh: float, allow_actions: bool) -> None:
    """Serve the read-only web dashboard (needs pgflow-py[web])."""
    try:
        import uvicorn

        from pgflow.web.app import create_app
        from pgflow.web.auth import WARNING, is_exposed_bind
        from pgflow.web.auth import basic_auth as basic_auth_hook
    except ImportError as exc:
        fail(f"the dashboard needs the web extra ({exc.name} is missing): pip install 'pgflow-py[web]'")
        return
    auth = None
    if basic_auth is not None:
        user, sep, password = basic_auth.partition(":")
        if not sep or not user or not password:
            fail("--basic-auth takes USER:PASSWORD (both non-empty)")
        auth = basic_auth_hook(user, password)
    if allow_actions and auth is None and is_exposed_bind(host):
        fail(f"--allow-actions without --basic-auth works only on a loopback --host (not {host}): anyone who reaches "
             "the dashboard could cancel runs; set $PGFLOW_DASHBOARD_BASIC_AUTH, or listen on 127.0.0.1")
    app = create_app(dsn_for(database_url), base_path=base_path, auth=auth, timezone=timezone,
                     refresh_interval=refresh, allowed_hosts=allowed_hosts or None, allow_actions=allow_actions or None)
    if auth is None and is_exposed_bind(host):
        click.secho(WARNING.format(where=f"listening on {host}:{port}"), fg="red", bold=True, err=True)
        if not allowed_hosts:
            click.echo("Without auth, only requests for localhost/127.0.0.1 are answered: name the host the "
                       "others use with --allowed-host, or set $PGFLOW_DASHBOARD_BASIC_AUTH.", err=True)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    path = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    click.echo(f"pgflow dashboard on http://{shown}:{port}{path} (Ctrl+C to stop)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True, server_header=False)
