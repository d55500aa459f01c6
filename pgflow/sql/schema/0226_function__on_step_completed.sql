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
