-- Whether p_more more running tasks fit within a flow's max_running and within every step's
-- (p_limits: the flow control row's limits; p_running, p_by_step: its running tasks in all and
-- per step, pgflow._running_by_step). p_more counts against each step as if all were that step's:
-- an upper bound on any step's share (pgflow-py flow control, _admit_claims).
CREATE OR REPLACE FUNCTION pgflow._limits_fit(p_limits jsonb, p_running int, p_by_step jsonb, p_more int)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT coalesce(p_running + p_more <= (p_limits->>'max_running')::int, true)
       AND NOT EXISTS (SELECT FROM jsonb_each(coalesce(p_limits->'steps', '{}')) AS s (step_slug, opts)
                        WHERE (s.opts->>'max_running')::int < coalesce((p_by_step->>s.step_slug)::int, 0) + p_more);
$$;
