-- The flow control part of pgflow._run_held_by: why flow control v_control keeps the queued tasks
-- of run p_run_id (in steps p_steps) from being claimed, or NULL when it does not.
CREATE OR REPLACE FUNCTION pgflow._run_held_by_limits(p_run_id uuid, p_control pgflow.flow_controls, p_steps text[])
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls := p_control;
    v_steps text[] := p_steps;
    v_max int;
    v_running int;
    v_step text;
    v_key text;
BEGIN
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
    v_max := (v_control.limits->>'max_running_per_key')::int;
    IF v_max IS NOT NULL THEN
        SELECT coalesce(r.concurrency_key, '') INTO v_key FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
        v_running := coalesce((pgflow._running_by_key(v_control.flow_slug)->>v_key)::int, 0);
        IF v_running >= v_max THEN
            RETURN format('concurrency limit: key %s max_running_per_key %s (%s running)',
                          CASE WHEN v_key = '' THEN '(none)' ELSE to_jsonb(v_key)::text END, v_max, v_running);
        END IF;
    END IF;
    IF v_control.limits ? 'rate_limit' AND pgflow._rate_room(v_control.limits->'rate_limit',
           (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
             WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = ''),
           extract(epoch FROM clock_timestamp())) < 1 THEN
        RETURN format('rate limit: flow %s per %s s', v_control.limits #>> '{rate_limit,count}',
                      v_control.limits #>> '{rate_limit,per}');
    END IF;
    IF v_control.limits ? 'rate_limit_per_key' THEN
        SELECT coalesce(r.concurrency_key, '') INTO v_key FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
        IF pgflow._rate_room(v_control.limits->'rate_limit_per_key',
               (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
                 WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = 'key:' || v_key),
               extract(epoch FROM clock_timestamp())) < 1 THEN
            RETURN format('rate limit: key %s %s per %s s',
                          CASE WHEN v_key = '' THEN '(none)' ELSE to_jsonb(v_key)::text END,
                          v_control.limits #>> '{rate_limit_per_key,count}',
                          v_control.limits #>> '{rate_limit_per_key,per}');
        END IF;
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
