-- The running tasks (status 'started') of flow p_flow_slug: in all, and per step
-- ({"<step>": n}): the slots in use that the flow's and its steps' max_running limit, derived
-- from task state (pgflow-py flow control: _admit_claims counts them before and under its lock).
CREATE OR REPLACE FUNCTION pgflow._running_by_step(p_flow_slug text, OUT total int, OUT by_step jsonb)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce(sum(running.n), 0)::int, coalesce(jsonb_object_agg(running.step_slug, running.n), '{}')
      FROM (SELECT t.step_slug, count(*)::int AS n
              FROM pgflow.step_tasks AS t
             WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
             GROUP BY t.step_slug) AS running;
$$;
