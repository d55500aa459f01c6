-- Lock a run row before a report changes the run (a step finishes); false when the run is no
-- longer started (it failed while the caller waited for the lock).
CREATE OR REPLACE FUNCTION pgflow._lock_started_run(p_run_id uuid)
RETURNS boolean
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    SELECT coalesce((SELECT NOT pgflow._is_terminal(r.status) FROM pgflow.runs AS r WHERE r.run_id = p_run_id FOR UPDATE), false)
$$;
