-- Why a started run waits (pgflow-py; get_run's Run.held_by), or NULL. First flow control: the
-- run has queued tasks with a message (its delays, if any, are over or not the point: due_at
-- says those) that its flow's flow control keeps from being claimed -
--   'paused[: <reason>]'                                   the flow is paused;
--   'concurrency limit: flow max_running <n> (<r> running)' the flow's slots are all taken;
--   'concurrency limit: key "<key>" max_running_per_key <n> (<r> running)' its key's slots are;
--   'concurrency limit: step <slug> max_running <n> (<r> running)' the slots of a step it waits in;
--   'rate limit: flow|step <slug>|key "<key>" <count> per <per> s' the rate allows no start now.
-- Else, when nothing of it can be claimed now:
--   'stalled: step <slug> task <i> started <t>, timeout <s> s passed; a sweeper requeues it'
--       a started task outlived its timeout (its worker died or hangs) and is not requeued yet;
--   'dependencies: <slug> waits for <parent>[, <parent>...][; <slug> waits for ...]'
--       it has no queued task: its next steps wait for steps still running.
-- A run of a flow without flow control costs a few index probes of its own rows.
CREATE OR REPLACE FUNCTION pgflow._run_held_by(p_run_id uuid)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_reason text;
    v_steps text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.runs AS r WHERE r.run_id = p_run_id AND r.status = 'started') THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(DISTINCT t.step_slug ORDER BY t.step_slug) INTO v_steps
      FROM pgflow.step_tasks AS t
     WHERE t.run_id = p_run_id AND t.status = 'queued' AND t.message_id IS NOT NULL;
    IF v_steps IS NOT NULL THEN
        SELECT c.* INTO v_control
          FROM pgflow.runs AS r JOIN pgflow.flow_controls AS c ON c.flow_slug = r.flow_slug
         WHERE r.run_id = p_run_id;
        IF FOUND THEN
            RETURN pgflow._run_held_by_limits(p_run_id, v_control, v_steps);
        END IF;
        RETURN NULL;  -- claimable now
    END IF;
    -- nothing to claim: a stalled task, or steps waiting for their parents
    SELECT format('stalled: step %s task %s started %s, timeout %s s passed; a sweeper requeues it',
                  t.step_slug, t.task_index, to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
                  coalesce(st.opt_timeout, f.opt_timeout))
      INTO v_reason
      FROM pgflow.step_tasks AS t
      JOIN pgflow.steps AS st ON st.flow_slug = t.flow_slug AND st.step_slug = t.step_slug
      JOIN pgflow.flows AS f ON f.flow_slug = t.flow_slug
     WHERE t.run_id = p_run_id AND t.status = 'started'
       AND t.started_at + make_interval(secs => coalesce(st.opt_timeout, f.opt_timeout) + 2) < clock_timestamp()
     ORDER BY t.started_at, t.step_slug, t.task_index
     LIMIT 1;
    IF v_reason IS NOT NULL THEN
        RETURN v_reason;
    END IF;
    SELECT 'dependencies: ' || string_agg(w.step_slug || ' waits for ' || w.parents, '; ' ORDER BY w.step_slug)
      INTO v_reason
      FROM (SELECT ss.step_slug, string_agg(d.dep_slug, ', ' ORDER BY d.dep_slug) AS parents
              FROM pgflow.step_states AS ss
              JOIN pgflow.deps AS d ON d.flow_slug = ss.flow_slug AND d.step_slug = ss.step_slug
              JOIN pgflow.step_states AS parent
                ON parent.run_id = ss.run_id AND parent.step_slug = d.dep_slug AND parent.status = 'started'
             WHERE ss.run_id = p_run_id AND ss.status = 'created' AND ss.remaining_deps > 0
             GROUP BY ss.step_slug) AS w;
    RETURN v_reason;
END;
$$;
