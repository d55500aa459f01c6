"""Operations: what the client (and the worker, the CLI) does, described once.

Each operation is a generator function that yields :class:`pgflow.db.Query` objects (and
:class:`pgflow.ops.driver.WaitForEvent`, :class:`pgflow.ops.driver.Snapshot`) and returns its result; :mod:`pgflow.ops.driver` runs
it on a sync or an async connection, so ``Client`` and ``AsyncClient`` share every line of logic.

    pgflow.ops.flows   compile_flow, flow_exists, get_flow, list_flows, delete_flow, upsert_flow
    pgflow.ops.runs    start_flow, start_flow_and_wait, enqueue, get_run, get_run_with_states,
                       list_runs, prune
"""

from pgflow.db import Snapshot, WaitForEvent, drive_async, drive_sync, translate_error

__all__ = ["Snapshot", "WaitForEvent", "drive_async", "drive_sync", "translate_error"]
