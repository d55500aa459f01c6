-- Register (or refresh) a worker function in pgflow.worker_functions, with how it is started:
-- 'http' (the default; a supervisor calls it over HTTP) or 'process' (a long-running process,
-- such as a Node/Bun TypeScript worker or the Python worker). Workers call it on start. An
-- existing row gets the new start_mode and updated_at; enabled, debounce and last_invoked_at
-- (when a supervisor last called the function) are kept.
CREATE OR REPLACE FUNCTION pgflow.track_worker_function(function_name text, start_mode text DEFAULT 'http')
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    INSERT INTO pgflow.worker_functions AS wf (function_name, start_mode, updated_at)
    VALUES (track_worker_function.function_name, track_worker_function.start_mode, clock_timestamp())
    ON CONFLICT (function_name)
    DO UPDATE SET start_mode = excluded.start_mode, updated_at = clock_timestamp();
$$;
