-- pgflow-py migration 0021_compat_path: drafted by scripts/build_migration.py from the schema files changed since 2b3aa49

-- 0226_function__on_step_completed.sql
-- A step of a run has just completed (its state row holds the output): emit step:completed,
-- release its dependents and move the run on (after a leaf step, only the run itself can
-- complete). The caller holds the run row lock.
-- Twin: _finish_steps does the same for many steps at once (complete_tasks); guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py.
CREATE OR REPLACE FUNCTION pgflow._on_step_completed(p_run_id uuid, p_step_slug text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_state pgflow.step_states;
    v_released int;
BEGIN
    SELECT ss.* INTO v_state
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug;
    IF pgflow._events_wanted() THEN
        PERFORM pgflow._emit(pgflow._step_event('step:completed', v_state));
    END IF;
    v_released := pgflow._pass_output_to_dependents(p_run_id, p_step_slug, v_state.output);
    UPDATE pgflow.runs AS r SET remaining_steps = r.remaining_steps - 1 WHERE r.run_id = p_run_id;
    IF v_released > 0 THEN
        PERFORM pgflow._advance_run(p_run_id);
    ELSE
        -- a leaf step: no step became ready (every earlier change ran the cascades already)
        PERFORM pgflow.maybe_complete_run(p_run_id);
    END IF;
END;
$$;

-- 0228_function__complete_task_apply.sql
-- One report of a task's output, applied on its own: complete_tasks (and so complete_task)
-- sends here every report its set-based path does not take (late, repeated, possibly violating
-- a dependent map's type, or of a run that failed meanwhile).
-- Twin: complete_tasks' set-based path applies clean reports; this function applies them too
-- when a report turns clean after complete_tasks sorted it out (a requeued task claimed again
-- meanwhile), and the two must leave the same rows and events: guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py (every outcome) and
-- tests/sql/complete_tasks/test_same_result_as_complete_task.py.
--
-- Locking: the step state row first (_lock_reported_task), so sibling tasks of one step (map
-- tasks) complete one after another with an exact remaining_tasks count; the run row only in
-- the completion that finishes the step, because only then are the run and the dependents
-- touched. Order of locks everywhere: step state, run, task, queue messages.
CREATE OR REPLACE FUNCTION pgflow._complete_task_apply(
    p_run_id uuid, p_step_slug text, p_task_index int, p_output jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_reported record;
    v_violation text;
    v_task pgflow.step_tasks;
    v_step_status text;
BEGIN
    SELECT * INTO v_reported FROM pgflow._lock_reported_task(p_run_id, p_step_slug, p_task_index);
    IF NOT FOUND THEN
        RETURN;
    END IF;

    IF v_reported.remaining_tasks = 1 THEN
        IF NOT pgflow._lock_started_run(p_run_id) THEN
            PERFORM pgmq.archive(v_reported.queue_name, v_reported.message_id);
            RETURN;
        END IF;
        IF v_reported.step_type = 'single' THEN
            v_violation := pgflow._output_type_violation(p_run_id, p_step_slug, p_output);
            IF v_violation IS NOT NULL THEN
                PERFORM pgflow._fail_task_type_violation(p_run_id, p_step_slug, p_task_index, p_output, v_violation);
                RETURN;
            END IF;
        END IF;
    END IF;

    UPDATE pgflow.step_tasks AS t
       SET status = 'completed', output = p_output, completed_at = now()
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'started'
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN;  -- requeued by requeue_stalled_tasks meanwhile
    END IF;
    IF pgflow._events_wanted() THEN
        PERFORM pgflow._emit(pgflow._task_event('task:completed', v_task));
    END IF;

    -- One statement per case, each with a plan that does not depend on its parameters: a single
    -- statement whose CASE folded v_reported.step_type was planned again on every call (custom
    -- plans cost less than its generic one). v_reported.remaining_tasks was read under the step
    -- state row lock, so it is the row's count here.
    IF v_reported.remaining_tasks > 1 THEN
        UPDATE pgflow.step_states AS ss
           SET remaining_tasks = ss.remaining_tasks - 1, completed_at = NULL, output = NULL
         WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
        RETURNING ss.status INTO v_step_status;
    ELSIF v_reported.remaining_tasks = 1 AND v_reported.step_type = 'single' THEN
        UPDATE pgflow.step_states AS ss
           SET remaining_tasks = ss.remaining_tasks - 1, status = 'completed', completed_at = now(),
               output = p_output
         WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
        RETURNING ss.status INTO v_step_status;
    ELSE  -- a map step's last task (and anything unexpected): the general statement
        UPDATE pgflow.step_states AS ss
           SET remaining_tasks = ss.remaining_tasks - 1,
               status = CASE WHEN ss.remaining_tasks = 1 THEN 'completed' ELSE ss.status END,
               completed_at = CASE WHEN ss.remaining_tasks = 1 THEN now() END,
               output = CASE
                   WHEN ss.remaining_tasks > 1 THEN NULL
                   WHEN v_reported.step_type = 'single' THEN p_output
                   ELSE (SELECT coalesce(jsonb_agg(t.output ORDER BY t.task_index), '[]'::jsonb)
                           FROM pgflow.step_tasks AS t
                          WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug)
               END
         WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
        RETURNING ss.status INTO v_step_status;
    END IF;

    IF v_step_status = 'completed' THEN
        PERFORM pgflow._on_step_completed(p_run_id, p_step_slug);
    END IF;
    PERFORM pgmq.archive(v_reported.queue_name, v_reported.message_id);
END;
$$;

