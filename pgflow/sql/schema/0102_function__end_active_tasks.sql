-- End a run's unfinished (queued or started) tasks - of the given steps, or of every step when
-- p_step_slugs is NULL - with p_status: 'skipped' when their step was skipped, 'cancelled' when
-- their run failed. Then archive the messages of exactly those tasks, so that no worker claims
-- them and no sweeper revives them (one pgmq.archive per queue the messages went to). Task rows
-- change before their queue messages are touched: the lock order of every path
-- (requeue_stalled_tasks locks tasks, then messages too).
-- No event: step:skipped and run:failed announce these ends (docs/reference/events.md).
-- Returns how many tasks it ended.
CREATE OR REPLACE FUNCTION pgflow._end_active_tasks(p_run_id uuid, p_status text, p_step_slugs text[] DEFAULT NULL)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH ended AS (
        UPDATE pgflow.step_tasks AS t
           SET status = p_status
         WHERE t.run_id = p_run_id
           AND (p_step_slugs IS NULL OR t.step_slug = ANY (p_step_slugs))
           AND t.status IN ('queued', 'started')
        RETURNING t.queue_name, t.message_id
    ),
    -- read by the final SELECT, so it always runs (after every ended row is locked and updated)
    archived AS (
        SELECT count(*) AS n
          FROM (SELECT e.queue_name, array_agg(e.message_id) AS ids
                  FROM ended AS e
                 WHERE e.message_id IS NOT NULL
                 GROUP BY e.queue_name) AS batch
         CROSS JOIN LATERAL pgmq.archive(batch.queue_name, batch.ids) AS a
    )
    SELECT (SELECT count(*)::int FROM ended)
      FROM archived
$$;
