-- The running tasks (status 'started') of flow p_flow_slug per concurrency key of their run
-- ({"<key>": n}; '' for the no-key group and for runs without a key): the slots in use that
-- max_running_per_key limits, derived from task state (pgflow-py flow control: _admit_claims,
-- _read_by_key, _run_held_by_limits and the flow's control state read it).
CREATE OR REPLACE FUNCTION pgflow._running_by_key(p_flow_slug text)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce(jsonb_object_agg(running.k, running.n), '{}')
      FROM (SELECT coalesce(r.concurrency_key, '') AS k, count(*)::int AS n
              FROM pgflow.step_tasks AS t
              JOIN pgflow.runs AS r ON r.run_id = t.run_id
             WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
             GROUP BY 1) AS running;
$$;
