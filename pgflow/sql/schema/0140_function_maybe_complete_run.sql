-- Complete a started run once no step is left (remaining_steps = 0). Its output is an object
-- of the outputs of its completed leaf steps (steps nothing depends on; skipped leaves are left
-- out; null when there is none). Emits run:completed. Does nothing otherwise. A child run of a
-- subflow step (pgflow-py) then ends its parent's task (pgflow._on_child_run_ended).
CREATE OR REPLACE FUNCTION pgflow.maybe_complete_run(run_id uuid)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH completed AS (
        UPDATE pgflow.runs AS r
           SET status = 'completed',
               completed_at = now(),
               output = (
                   SELECT jsonb_object_agg(ss.step_slug, ss.output)
                     FROM pgflow.step_states AS ss
                    WHERE ss.run_id = r.run_id
                      AND ss.status = 'completed'
                      AND NOT EXISTS (SELECT 1 FROM pgflow.deps AS d
                                       WHERE d.flow_slug = ss.flow_slug AND d.dep_slug = ss.step_slug))
         WHERE r.run_id = maybe_complete_run.run_id
           AND NOT pgflow._is_terminal(r.status)
           AND r.remaining_steps = 0
        RETURNING r.parent_run_id, r.run_id, pgflow._emit(pgflow._run_event('run:completed', r)) AS emitted
    )
    -- pgflow-py: a child run of a subflow step completes its parent's task in this transaction
    SELECT count(CASE WHEN c.parent_run_id IS NOT NULL THEN pgflow._on_child_run_ended(c.run_id) END)
      FROM completed AS c;
$$;
