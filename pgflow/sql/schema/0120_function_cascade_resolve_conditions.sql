-- Settle the conditions of every ready step of a run, repeating while skips make more steps
-- ready (at most 50 rounds). For the first unmet step with when_unmet = 'fail' the step and the
-- run fail ('Condition not met', step:failed + run:failed, the run's unfinished tasks cancelled
-- and their messages archived) and the function returns false. Unmet 'skip' steps are skipped
-- (skip_reason 'condition_unmet'; their dependents lose a dependency, a dependent map gets zero
-- tasks); unmet 'skip-cascade' steps are skipped with everything downstream. Steps whose
-- condition holds stay ready for start_ready_steps. Returns true while the run can go on (false
-- if the run is failed).
CREATE OR REPLACE FUNCTION pgflow.cascade_resolve_conditions(run_id uuid)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_fail text;
    v_skip text[];
    v_cascade text[];
    v_step text;
BEGIN
    FOR i IN 1..50 LOOP
        SELECT (array_agg(u.step_slug ORDER BY u.step_index) FILTER (WHERE u.when_unmet = 'fail'))[1],
               array_agg(u.step_slug ORDER BY u.step_index) FILTER (WHERE u.when_unmet = 'skip'),
               array_agg(u.step_slug ORDER BY u.step_index) FILTER (WHERE u.when_unmet = 'skip-cascade')
          INTO v_fail, v_skip, v_cascade
          FROM pgflow._unmet_condition_steps(cascade_resolve_conditions.run_id) AS u;

        IF v_fail IS NOT NULL THEN
            PERFORM pgflow._fail_run(cascade_resolve_conditions.run_id, v_fail, 'Condition not met');
            RETURN false;
        END IF;
        EXIT WHEN v_skip IS NULL AND v_cascade IS NULL;

        IF v_skip IS NOT NULL THEN
            PERFORM pgflow._skip_steps(cascade_resolve_conditions.run_id, v_skip, 'condition_unmet');
        END IF;
        FOREACH v_step IN ARRAY coalesce(v_cascade, '{}') LOOP
            PERFORM pgflow._cascade_force_skip_steps(cascade_resolve_conditions.run_id, v_step, 'condition_unmet');
        END LOOP;
    END LOOP;

    RETURN NOT EXISTS (
        SELECT 1 FROM pgflow.runs AS r
         WHERE r.run_id = cascade_resolve_conditions.run_id AND pgflow._is_terminal(r.status));
END;
$$;
