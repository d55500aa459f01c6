-- Claim the tasks behind messages a worker has just read from the flow's queue, in one
-- statement: pgflow._start_tasks' claim (shared with claim_tasks: a task is claimed when it is
-- queued and both its run and its step are started, and becomes 'started' with task:started;
-- messages without such a task give no row, so the worker must accept fewer tasks than
-- messages), then each claimed message is hidden for the step's timeout (step, else flow) + 2
-- seconds. When a claimed task's message cannot be hidden (it is gone from the queue) the call
-- fails ('start_tasks(): visibility updated N of M claimed messages') and claims nothing.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise (read pgflow.runs.input).
CREATE OR REPLACE FUNCTION pgflow.start_tasks(flow_slug text, msg_ids bigint[], worker_id uuid)
RETURNS SETOF pgflow.step_task_record
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH claimed AS (
        SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
          FROM pgflow._start_tasks(start_tasks.flow_slug, start_tasks.msg_ids, start_tasks.worker_id) AS c
    ),
    visibility AS (
        -- hide the claimed messages for the step's timeout + 2 s; read by the final SELECT, so
        -- it always runs (an unread SELECT in WITH would be skipped)
        SELECT count(*) AS extended
          FROM (SELECT array_agg(c.msg_id ORDER BY c.msg_id) AS ids,
                       array_agg(coalesce(s.opt_timeout, f.opt_timeout) + 2 ORDER BY c.msg_id) AS offsets
                  FROM claimed AS c
                  JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
                  JOIN pgflow.flows AS f ON f.flow_slug = c.flow_slug) AS batch
         CROSS JOIN LATERAL pgflow.set_vt_batch(start_tasks.flow_slug, batch.ids, batch.offsets)
    )
    SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
      FROM claimed AS c
     CROSS JOIN visibility AS v
     -- a claimed task whose message was not hidden (the message is gone) must not run: the
     -- statement fails, undoing every claim and attempt of the call, with upstream's message (a
     -- SQL function cannot RAISE; the failing cast carries it)
     WHERE CASE WHEN v.extended = (SELECT count(*) FROM claimed) THEN true
                ELSE format('start_tasks(): visibility updated %s of %s claimed messages',
                            v.extended, (SELECT count(*) FROM claimed))::int4 IS NULL END
     ORDER BY c.msg_id;
$$;
