-- pgflow-py: when the queued tasks of some runs (NULL: of every started run) that are still
-- hidden become visible to workers - a run enqueued for later, a step waiting out its
-- start_delay, a task waiting out a retry's backoff. Only the task's pgmq message knows (its
-- visibility time), so each queue holding such tasks is read once, by its stored queue_name.
-- Read-only; tasks visible now are left out.
CREATE OR REPLACE FUNCTION pgflow._task_due_times(p_run_ids uuid[])
RETURNS TABLE (run_id uuid, step_slug text, task_index int, due_at timestamptz)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_queue record;
BEGIN
    FOR v_queue IN
        SELECT t.queue_name, array_agg(t.message_id) AS message_ids
          FROM pgflow.step_tasks AS t
          JOIN pgflow.runs AS r ON r.run_id = t.run_id AND r.status = 'started'
         WHERE t.status = 'queued' AND t.message_id IS NOT NULL
           AND (p_run_ids IS NULL OR t.run_id = ANY (p_run_ids))
         GROUP BY t.queue_name
    LOOP
        RETURN QUERY EXECUTE format(
            'SELECT t.run_id, t.step_slug, t.task_index, m.vt
               FROM pgmq.%I AS m
               JOIN pgflow.step_tasks AS t
                 ON t.queue_name = $1 AND t.message_id = m.msg_id AND t.status = ''queued''
              WHERE m.msg_id = ANY ($2) AND m.vt > clock_timestamp()',
            pgmq.format_table_name(v_queue.queue_name, 'q'))
        USING v_queue.queue_name, v_queue.message_ids;
    END LOOP;
END;
$$;
