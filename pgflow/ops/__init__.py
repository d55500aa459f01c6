"""Operations: what the clients (and the worker, the CLI) do, each described once.

Each operation is a generator function that yields :class:`pgflow.db.Query` objects (and
:class:`pgflow.db.WaitForEvent`, :class:`pgflow.db.Snapshot`) and returns its result; the drivers
of :mod:`pgflow.db` run it on a sync or an async connection, so ``Client`` and ``AsyncClient``
share every line of logic. An operation's signature and docstring are also the client method's
(``pgflow.client`` takes them from here).

    pgflow.ops.flows      compile_flow, flow_exists, get_flow, list_flows, delete_flow, upsert_flow
    pgflow.ops.runs       start_flow, start_flow_and_wait, enqueue, enqueue_in, enqueue_at, get_run,
                          get_run_with_states, list_runs, prune
    pgflow.ops.schedules  schedule, unschedule, pause_schedule, resume_schedule, get_schedule, ...,
                          and the scheduler's fire_next_due, sync_declared_schedules
    pgflow.ops.health     health_check
    pgflow.ops.cancel     cancel_run
    pgflow.ops.retry      retry_run
    pgflow.ops.idempotency  the checks of idempotency keys (start_flow / enqueue idempotency_key=)
"""
