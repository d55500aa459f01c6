-- pgflow-py addition (durable waits): end the waits that are due - sleep steps whose wake time
-- came (they complete with {"slept_until": <wake time>}) and signal steps whose timeout passed
-- (on_timeout 'fail': the step fails with no retry, when_exhausted applies; 'default': it
-- completes with its default output) - and begins the waits of a run enqueued for later
-- (start_flow_at) that is now due (pgflow._begin_waits: timeouts and wake times count from
-- then, a kept signal is delivered, child runs start). At most p_limit waits per call, oldest first; a step
-- another transaction holds is left for the next call (SKIP LOCKED), so concurrent callers do
-- not wait for each other. Every Python worker's sweeper calls it about once a second; pg_cron
-- can too. Returns how many waits it ended or began.
CREATE OR REPLACE FUNCTION pgflow.wake_due_steps(p_limit int DEFAULT 1000)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_due record;
    v_wait record;
    v_ended int := 0;
BEGIN
    FOR v_due IN
        SELECT w.run_id, w.step_slug, w.task_index
          FROM pgflow.waits AS w
         WHERE w.due_at <= now()
         ORDER BY w.due_at
         LIMIT p_limit
    LOOP
        PERFORM 1 FROM pgflow.step_states AS ss
         WHERE ss.run_id = v_due.run_id AND ss.step_slug = v_due.step_slug
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            CONTINUE;
        END IF;
        SELECT w.wait_kind, w.due_at, w.since, ws.on_timeout, ws.timeout_output, ws.timeout_seconds
          INTO v_wait
          FROM pgflow.waits AS w
          JOIN pgflow.runs AS r ON r.run_id = w.run_id
          LEFT JOIN pgflow.wait_steps AS ws ON ws.flow_slug = r.flow_slug AND ws.step_slug = w.step_slug
         WHERE w.run_id = v_due.run_id AND w.step_slug = v_due.step_slug AND w.task_index = v_due.task_index
           AND w.due_at <= now();
        IF NOT FOUND THEN
            CONTINUE;  -- ended by a signal meanwhile
        END IF;
        IF v_wait.due_at = v_wait.since THEN
            -- a wait that has not begun (its run was enqueued for later): it begins now, with
            -- the step's other tasks; a run over meanwhile drops them
            IF pgflow._lock_started_run(v_due.run_id) THEN
                PERFORM pgflow._begin_waits(v_due.run_id, ARRAY[v_due.step_slug]);
            ELSE
                DELETE FROM pgflow.waits AS w WHERE w.run_id = v_due.run_id AND w.step_slug = v_due.step_slug;
            END IF;
        ELSIF v_wait.wait_kind = 'sleep' THEN
            PERFORM pgflow._end_wait(v_due.run_id, v_due.step_slug, v_due.task_index,
                                     jsonb_build_object('slept_until', v_wait.due_at));
        ELSIF v_wait.on_timeout = 'default' THEN
            PERFORM pgflow._end_wait(v_due.run_id, v_due.step_slug, v_due.task_index,
                                     coalesce(v_wait.timeout_output, 'null'::jsonb));
        ELSE
            PERFORM pgflow._fail_wait(v_due.run_id, v_due.step_slug, v_due.task_index, format(
                'Timed out: no signal for step %L within %s (waiting since %s)', v_due.step_slug,
                justify_interval(coalesce(make_interval(secs => v_wait.timeout_seconds),
                                         date_trunc('second', v_wait.due_at - v_wait.since))),
                to_char(v_wait.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')));
        END IF;
        v_ended := v_ended + 1;
    END LOOP;
    RETURN v_ended;
END;
$$;
