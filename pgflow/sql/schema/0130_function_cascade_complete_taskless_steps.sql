-- Complete the ready steps of a run that have no tasks (map steps over an empty array), and the
-- steps that become taskless because of them (a map over an empty map's output is empty too),
-- until nothing changes. Between rounds the conditions of newly ready steps are settled
-- (cascade_resolve_conditions), so a condition is never bypassed; call that function once
-- before this one, as start_flow and complete_task do. Returns how many steps were completed.
CREATE OR REPLACE FUNCTION pgflow.cascade_complete_taskless_steps(run_id uuid)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_total int := 0;
    v_done int;
BEGIN
    -- every round but the last completes at least one step, so a flow's steps bound the rounds
    FOR i IN 1..10000 LOOP
        v_done := pgflow._complete_taskless_layer(cascade_complete_taskless_steps.run_id);
        EXIT WHEN v_done = 0;
        v_total := v_total + v_done;
        EXIT WHEN NOT pgflow.cascade_resolve_conditions(cascade_complete_taskless_steps.run_id);
    END LOOP;
    RETURN v_total;
END;
$$;
