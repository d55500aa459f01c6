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

-- name: dashboard_run_waits
-- The run page: what each waiting step of a run waits for (its waits in progress, with the
-- timeout or wake time) and the child runs of its subflow steps, by step and task.
SELECT ws.step_slug, ws.wait_kind, w.task_index, w.since, w.due_at,
       c.run_id AS child_run_id, c.status AS child_status, ws.child_flow_slug, c.parent_task_index
  FROM pgflow.runs AS r
  JOIN pgflow.wait_steps AS ws ON ws.flow_slug = r.flow_slug
  LEFT JOIN pgflow.waits AS w ON w.run_id = r.run_id AND w.step_slug = ws.step_slug
  LEFT JOIN pgflow.runs AS c
         ON c.parent_run_id = r.run_id AND c.parent_step_slug = ws.step_slug
        AND (w.task_index IS NULL OR c.parent_task_index = w.task_index)
 WHERE r.run_id = %(run_id)s
 ORDER BY ws.step_slug, coalesce(w.task_index, c.parent_task_index), c.started_at
 LIMIT 200
