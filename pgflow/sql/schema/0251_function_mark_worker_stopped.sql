-- A worker shutting down gracefully records it (stopped_at), so it is not mistaken for a
-- crashed worker.
CREATE OR REPLACE FUNCTION pgflow.mark_worker_stopped(worker_id uuid)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    UPDATE pgflow.workers AS w
       SET stopped_at = clock_timestamp()
     WHERE w.worker_id = mark_worker_stopped.worker_id;
$$;
