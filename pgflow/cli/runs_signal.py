"""``pgflow runs signal RUN_ID STEP --payload JSON`` (or ``--flow FLOW --key KEY STEP``): send a
signal to a signal step.

Exit codes a script can use: 0 when the signal was delivered (the step completed) or kept (the
step does not wait yet and gets it when it does); 3 when a signal came first (it won; this one
changed nothing); 1 for an error (unknown run, key or step, a run that is over, a step that no
longer waits, a payload that is not JSON).
"""

from __future__ import annotations

import sys

import click

from pgflow.cli.common import client_for, database_option, echo_json, fail, json_option, parse_json_option
from pgflow.cli.runs import runs
from pgflow.errors import PgFlowError
from pgflow.models import SignalResult

_SAID = {
    "delivered": "delivered: step {step!r} of run {run} completed with the payload",
    "kept": "kept: step {step!r} of run {run} does not wait yet; it gets the signal when it does",
    "duplicate": "duplicate: step {step!r} of run {run} was signalled first at {at}; that signal won and "
                 "this one changed nothing",
}


@runs.command("signal")
@click.argument("args", nargs=-1, metavar="RUN_ID STEP")
@click.option("--payload", "payload_text", default="null", show_default=True, metavar="JSON",
              help="The signal's payload as JSON: the step's output.")
@click.option("--flow", "flow_slug", default=None, help="With --key: the flow whose run has the key.")
@click.option("--key", "signal_key", default=None, metavar="KEY",
              help="Name the run by the signal key it was started with (then give only STEP).")
@database_option
@json_option
def signal_command(args: tuple[str, ...], payload_text: str, flow_slug: str | None, signal_key: str | None,
                   database_url: str | None, as_json: bool) -> None:
    """Send a signal to the signal step STEP of a run: a waiting step completes with the payload
    as its output; one that does not wait yet gets it when it does. The first signal wins: a
    second one is reported and changes nothing. RUN_ID may be the whole id or a unique start or
    end of it; or name the run by its signal key: --flow FLOW --key KEY STEP.

    Exit status: 0 delivered or kept, 3 a signal came first, 1 an error."""
    payload = parse_json_option(payload_text, "--payload")
    if signal_key is not None or flow_slug is not None:
        if signal_key is None or flow_slug is None or len(args) != 1:
            raise click.UsageError("by key, give --flow FLOW --key KEY and the STEP only")
    elif len(args) != 2:
        raise click.UsageError("give RUN_ID and STEP (or --flow FLOW --key KEY STEP)")
    *run_ref, step = args
    with client_for(database_url) as client:
        try:
            if signal_key is not None:
                result: SignalResult = client.signal_by_key(flow_slug, signal_key, step, payload)
            else:
                result = client.signal(client.find_run_id(run_ref[0]), step, payload)
        except PgFlowError as exc:
            fail(str(exc))
    if as_json:
        echo_json(result)
    else:
        click.echo(_SAID[result.outcome].format(step=result.step_slug, run=result.run_id,
                                                at=result.received_at.isoformat(timespec="seconds")))
    sys.exit(3 if result.duplicate else 0)
