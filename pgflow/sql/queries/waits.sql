-- Durable waits: signal, sleep and subflow steps (pgflow/ops/waits.py, the worker's waker).

-- name: client_set_wait_steps
-- Which steps of a compiled flow wait, and how (replaces what was stored).
SELECT pgflow._set_wait_steps(%(flow_slug)s, %(waits)s::jsonb)

-- name: client_signal
SELECT (s.r ->> 'run_id')::uuid AS run_id, s.r ->> 'step_slug' AS step_slug, s.r ->> 'outcome' AS outcome,
       (s.r ->> 'received_at')::timestamptz AS received_at
  FROM (SELECT pgflow.signal(%(run_id)s::uuid, %(step_slug)s, %(payload)s::jsonb) AS r) AS s

-- name: client_signal_by_key
SELECT (s.r ->> 'run_id')::uuid AS run_id, s.r ->> 'step_slug' AS step_slug, s.r ->> 'outcome' AS outcome,
       (s.r ->> 'received_at')::timestamptz AS received_at
  FROM (SELECT pgflow.signal_by_key(%(flow_slug)s, %(signal_key)s, %(step_slug)s, %(payload)s::jsonb) AS r) AS s

-- name: worker_wake_due_steps
-- Every worker calls it about once a second; concurrent calls skip each other's steps.
SELECT pgflow.wake_due_steps() AS woken
