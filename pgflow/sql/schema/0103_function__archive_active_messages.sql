-- Archive the pgmq messages of a run's unfinished (queued or started) tasks, of the given steps
-- or, when p_step_slugs is NULL, of every step, so that no worker picks them up any more.
-- Returns how many messages were archived.
CREATE OR REPLACE FUNCTION pgflow._archive_active_messages(p_run_id uuid, p_step_slugs text[] DEFAULT NULL)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    SELECT count(*)::int
      FROM pgflow.runs AS r
     CROSS JOIN LATERAL pgmq.archive(r.flow_slug, ARRAY(
                SELECT t.message_id
                  FROM pgflow.step_tasks AS t
                 WHERE t.run_id = p_run_id
                   AND (p_step_slugs IS NULL OR t.step_slug = ANY (p_step_slugs))
                   AND NOT pgflow._is_terminal(t.status)
                   AND t.message_id IS NOT NULL)) AS archived
     WHERE r.run_id = p_run_id;
$$;
