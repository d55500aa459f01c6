-- The first p_limit messages, in message order, of run p_run_id's queued tasks on queue
-- p_queue_name: what the prioritized and per-key reads (pgflow._read_prioritized,
-- pgflow._read_by_key) offer of a run. Each started step's queued tasks are taken in order from
-- idx_step_tasks_queued (run, step, message id), at most p_limit of them, so a claim visits
-- p_limit tasks per step however many are queued (ordering a run's queued tasks as a whole
-- visited all of them at every claim: a 30,000-item map took 17-21 s instead of 5.5 s). A queued
-- task's step is started (only then are its tasks claimable).
-- No SET clause and a SQL-standard body, so that PostgreSQL inlines it into the read.
CREATE OR REPLACE FUNCTION pgflow._queued_in_order(p_run_id uuid, p_queue_name text, p_limit int)
RETURNS TABLE (message_id bigint)
LANGUAGE sql
STABLE
PARALLEL SAFE
BEGIN ATOMIC
    SELECT q.message_id
      FROM pgflow.step_states AS ss
     CROSS JOIN LATERAL (
            SELECT t.message_id
              FROM pgflow.step_tasks AS t
             WHERE t.run_id = ss.run_id AND t.step_slug = ss.step_slug AND t.status = 'queued'
               AND t.queue_name = p_queue_name AND t.message_id IS NOT NULL
             ORDER BY t.message_id
             LIMIT p_limit) AS q
     WHERE ss.run_id = p_run_id AND ss.status = 'started'
     ORDER BY q.message_id
     LIMIT p_limit;
END;
