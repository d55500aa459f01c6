-- Register (or refresh) a worker function name in pgflow.worker_functions. Workers call it on
-- start; supervisors use the table to tell which functions should have live workers. Marking it
-- as just invoked keeps a supervisor from starting a second copy right away.
CREATE OR REPLACE FUNCTION pgflow.track_worker_function(function_name text)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    INSERT INTO pgflow.worker_functions AS wf (function_name, last_invoked_at, updated_at)
    VALUES (track_worker_function.function_name, clock_timestamp(), clock_timestamp())
    ON CONFLICT (function_name)
    DO UPDATE SET last_invoked_at = clock_timestamp(), updated_at = clock_timestamp();
$$;
