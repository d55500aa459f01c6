-- Flow control (pgflow/ops/flow_control.py): pause, resume, limits, and what a flow runs now.

-- name: flow_control_state
-- A flow's flow control with its running tasks per step (and per key) and its queued tasks (no row: no such
-- flow). A flow without a flow_controls row has no limits and is not paused.
SELECT f.flow_slug, coalesce(c.limits, '{}'::jsonb) AS limits, c.paused_at, c.pause_reason,
       (SELECT coalesce(jsonb_object_agg(running.step_slug, running.n), '{}'::jsonb)
          FROM (SELECT t.step_slug, count(*) AS n
                  FROM pgflow.step_tasks AS t
                 WHERE t.flow_slug = f.flow_slug AND t.status = 'started'
                 GROUP BY t.step_slug) AS running) AS running,
       (SELECT count(*) FROM pgflow.step_tasks AS t
         WHERE t.flow_slug = f.flow_slug AND t.status = 'queued' AND t.message_id IS NOT NULL) AS queued,
       -- with a per-key limit: running tasks per concurrency key ('' = the no-key group)
       CASE WHEN c.limits ? 'max_running_per_key' THEN pgflow._running_by_key(f.flow_slug) END AS running_by_key
FROM pgflow.flows AS f
LEFT JOIN pgflow.flow_controls AS c ON c.flow_slug = f.flow_slug
WHERE f.flow_slug = %(flow_slug)s

-- name: flow_control_set_limits
SELECT pgflow.set_flow_limits(%(flow_slug)s, %(limits)s::jsonb)

-- name: flow_control_declare_limits
-- What the flow's code declares (compile_flow): replaces the limits in force only when the code
-- changed them since the last compile.
SELECT pgflow._declare_flow_limits(%(flow_slug)s, %(limits)s::jsonb)

-- name: flow_control_pause
SELECT pgflow.pause_flow(%(flow_slug)s, %(reason)s)

-- name: flow_control_resume
SELECT pgflow.resume_flow(%(flow_slug)s)
