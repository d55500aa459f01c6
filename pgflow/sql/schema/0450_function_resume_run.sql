-- Resume a run that ended without completing (pgflow-py addition; client.resume_run and
-- `pgflow runs resume` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (retry_kind 'resume' tells it from a retry), that reuses the
-- output of every step the original completed and of every completed item of a map step it
-- left unfinished, and queues only what is missing. Returns the new run.
-- A step is reused when it completed in the original and every step it depends on is reused;
-- its state is completed with the original's output (step:completed), its completed tasks are
-- copied (no message is sent), and its dependents are released as after a normal completion.
-- Then the run goes on as start_flow's does (conditions, taskless steps, ready steps); a map
-- step that the original had partly done gets all its tasks, and those whose item completed in
-- the original are completed at once with its output (task:completed; their messages archived),
-- so only the rest is worked on. The tasks left are ordinary queued tasks: any worker runs them.
-- The original is left as it is; each call starts one more run. The new run continues the
-- original's trace (runs.trace_context copied) and keeps a concurrency key that a Python
-- function gave (both set by pgflow._run_to_rerun).
-- Only a failed run can be resumed (a cancelled run is a failed one with cancelled_at set).
-- Shape check: when the flow's steps are no longer the steps the original run has states for
-- (a step was added since), the call is refused unless p_force; forced, only the steps that
-- still exist are reused.
-- Errors: PF002 unknown run; PF005 a run that is still going or completed, or a changed
-- definition without p_force; then as start_flow (PF003 input). Nothing is written on error.
CREATE OR REPLACE FUNCTION pgflow.resume_run(p_run_id uuid, p_force boolean DEFAULT false)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_original pgflow.runs;
    v_run_id uuid;
    v_run pgflow.runs;
    v_reused text[] := '{}';
    v_step record;
    v_state pgflow.step_states;
    v_released int;
    v_changed text[];
    v_done int;
BEGIN
    v_original := pgflow._run_to_rerun(p_run_id, 'resume');

    -- the shape check: steps of the flow now vs the steps the original run has states for
    SELECT array_agg(x.step_slug ORDER BY x.step_slug) INTO v_changed
      FROM ((SELECT s.step_slug FROM pgflow.steps AS s WHERE s.flow_slug = v_original.flow_slug
             EXCEPT SELECT ss.step_slug FROM pgflow.step_states AS ss WHERE ss.run_id = p_run_id)
            UNION
            (SELECT ss.step_slug FROM pgflow.step_states AS ss WHERE ss.run_id = p_run_id
             EXCEPT SELECT s.step_slug FROM pgflow.steps AS s WHERE s.flow_slug = v_original.flow_slug)) AS x;
    IF v_changed IS NOT NULL AND NOT p_force THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('cannot resume run %s: the definition of flow %L changed since it ran (steps %s)',
                             p_run_id, v_original.flow_slug, array_to_string(v_changed, ', ')),
            HINT = 'retry the run (a clean run), or resume with force to reuse the steps that are still there';
    END IF;

    PERFORM pgflow._check_run_input(v_original.flow_slug, v_original.input);
    -- the run options _run_to_rerun set (the original's trace, its key) serve this run only, as
    -- start_flow's do
    v_run_id := pgflow._create_run(v_original.flow_slug, v_original.input, NULL);
    PERFORM set_config('pgflow.run_options', '', true);
    UPDATE pgflow.runs AS r SET retry_of = p_run_id, retry_kind = 'resume' WHERE r.run_id = v_run_id;

    -- reuse the completed steps whose dependencies are all reused (dependencies come first)
    FOR v_step IN
        SELECT s.step_slug, o.output, o.initial_tasks
          FROM pgflow.steps AS s
          JOIN pgflow.step_states AS o ON o.run_id = p_run_id AND o.step_slug = s.step_slug
         WHERE s.flow_slug = v_original.flow_slug AND o.status = 'completed'
         ORDER BY s.step_index
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pgflow.deps AS d
                               WHERE d.flow_slug = v_original.flow_slug AND d.step_slug = v_step.step_slug
                                 AND NOT d.dep_slug = ANY (v_reused));
        v_reused := v_reused || v_step.step_slug;

        UPDATE pgflow.step_states AS ss
           SET status = 'completed', started_at = now(), completed_at = now(), remaining_tasks = 0,
               initial_tasks = v_step.initial_tasks, output = v_step.output
         WHERE ss.run_id = v_run_id AND ss.step_slug = v_step.step_slug
        RETURNING * INTO v_state;
        INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, status, attempts_count, output,
                                       queued_at, started_at, completed_at, queue_name)
        SELECT t.flow_slug, v_run_id, t.step_slug, t.task_index, 'completed', t.attempts_count, t.output,
               now(), now(), now(), t.queue_name
          FROM pgflow.step_tasks AS t
         WHERE t.run_id = p_run_id AND t.step_slug = v_step.step_slug AND t.status = 'completed';
        PERFORM pgflow._emit(pgflow._step_event('step:completed', v_state));
        v_released := pgflow._pass_output_to_dependents(v_run_id, v_step.step_slug, v_step.output);
        UPDATE pgflow.runs AS r SET remaining_steps = r.remaining_steps - 1 WHERE r.run_id = v_run_id;
    END LOOP;

    IF pgflow.cascade_resolve_conditions(v_run_id) THEN
        PERFORM pgflow.cascade_complete_taskless_steps(v_run_id);
        -- pgflow-py (subflows): a subflow task whose item completed in the original starts no
        -- child run (pgflow._start_child_run reads this); the loop below completes it
        PERFORM set_config('pgflow.resuming', p_run_id::text, true);
        PERFORM pgflow.start_ready_steps(v_run_id);
        PERFORM set_config('pgflow.resuming', '', true);

        -- map steps the original left unfinished: complete the items it had completed
        FOR v_step IN
            SELECT ss.step_slug, ss.initial_tasks
              FROM pgflow.step_states AS ss
              JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
              JOIN pgflow.step_states AS o ON o.run_id = p_run_id AND o.step_slug = ss.step_slug
             WHERE ss.run_id = v_run_id AND ss.status = 'started' AND s.step_type = 'map'
               AND o.initial_tasks = ss.initial_tasks
        LOOP
            WITH done AS (
                UPDATE pgflow.step_tasks AS t
                   SET status = 'completed', output = o.output, attempts_count = o.attempts_count,
                       started_at = now(), completed_at = now()
                  FROM pgflow.step_tasks AS o
                 WHERE t.run_id = v_run_id AND t.step_slug = v_step.step_slug
                   AND o.run_id = p_run_id AND o.step_slug = v_step.step_slug
                   AND o.task_index = t.task_index AND o.status = 'completed'
                RETURNING t.queue_name, t.message_id, pgflow._emit(pgflow._task_event('task:completed', t)) AS emitted
            ),
            archived AS (
                SELECT count(pgmq.archive(d.queue_name, d.message_id)) AS n FROM done AS d
            )
            SELECT n INTO v_done FROM archived;
            -- a map step whose every item completed has completed in the original: never here
            UPDATE pgflow.step_states AS ss SET remaining_tasks = ss.remaining_tasks - v_done
             WHERE ss.run_id = v_run_id AND ss.step_slug = v_step.step_slug;
        END LOOP;

        PERFORM pgflow.maybe_complete_run(v_run_id);
    END IF;

    SELECT * INTO v_run FROM pgflow.runs AS r WHERE r.run_id = v_run_id;
    RETURN NEXT v_run;
END;
$$;
