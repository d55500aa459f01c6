-- Why flow control holds a started run back (pgflow-py; get_run's Run.held_by), or NULL: the
-- run has queued tasks with a message (its delays, if any, are over or not the point: due_at
-- says those) that its flow's flow control keeps from being claimed -
--   'paused[: <reason>]'                                   the flow is paused;
--   'concurrency limit: flow max_running <n> (<r> running)' the flow's slots are all taken;
--   'concurrency limit: step <slug> max_running <n> (<r> running)' the slots of a step it waits in;
--   'rate limit: flow|step <slug> <count> per <per> s'      the rate allows no start right now.
-- A run of a flow without flow control costs one index probe.
CREATE OR REPLACE FUNCTION pgflow._run_held_by(p_run_id uuid)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_steps text[];
    v_max int;
    v_running int;
    v_step text;
BEGIN
    SELECT c.* INTO v_control
      FROM pgflow.runs AS r JOIN pgflow.flow_controls AS c ON c.flow_slug = r.flow_slug
     WHERE r.run_id = p_run_id AND r.status = 'started';
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(DISTINCT t.step_slug ORDER BY t.step_slug) INTO v_steps
      FROM pgflow.step_tasks AS t
     WHERE t.run_id = p_run_id AND t.status = 'queued' AND t.message_id IS NOT NULL;
    IF v_steps IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_control.paused_at IS NOT NULL THEN
        RETURN 'paused' || coalesce(': ' || v_control.pause_reason, '');
    END IF;
    v_max := (v_control.limits->>'max_running')::int;
    IF v_max IS NOT NULL THEN
        SELECT count(*)::int INTO v_running
          FROM pgflow.step_tasks AS t WHERE t.flow_slug = v_control.flow_slug AND t.status = 'started';
        IF v_running >= v_max THEN
            RETURN format('concurrency limit: flow max_running %s (%s running)', v_max, v_running);
        END IF;
    END IF;
    IF v_control.limits ? 'rate_limit' AND pgflow._rate_room(v_control.limits->'rate_limit',
           (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
             WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = ''),
           extract(epoch FROM clock_timestamp())) < 1 THEN
        RETURN format('rate limit: flow %s per %s s', v_control.limits #>> '{rate_limit,count}',
                      v_control.limits #>> '{rate_limit,per}');
    END IF;
    FOREACH v_step IN ARRAY v_steps LOOP
        IF v_control.limits #> ARRAY['steps', v_step, 'rate_limit'] IS NOT NULL
           AND pgflow._rate_room(v_control.limits #> ARRAY['steps', v_step, 'rate_limit'],
                   (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
                     WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = v_step),
                   extract(epoch FROM clock_timestamp())) < 1 THEN
            RETURN format('rate limit: step %s %s per %s s', v_step,
                          v_control.limits #>> ARRAY['steps', v_step, 'rate_limit', 'count'],
                          v_control.limits #>> ARRAY['steps', v_step, 'rate_limit', 'per']);
        END IF;
        v_max := (v_control.limits #>> ARRAY['steps', v_step, 'max_running'])::int;
        CONTINUE WHEN v_max IS NULL;
        SELECT count(*)::int INTO v_running
          FROM pgflow.step_tasks AS t
         WHERE t.flow_slug = v_control.flow_slug AND t.step_slug = v_step AND t.status = 'started';
        IF v_running >= v_max THEN
            RETURN format('concurrency limit: step %s max_running %s (%s running)', v_step, v_max, v_running);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
