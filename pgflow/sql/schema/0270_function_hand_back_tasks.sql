-- A worker shutting down gives back the tasks it claimed but will not finish, so another worker
-- takes them at once instead of waiting for the sweeper (requeue_stalled_tasks).
-- The tasks are those of `msg_ids` in queue `queue_name` (NULL: the flow's queue, lower(flow_slug))
-- that are still 'started' by `worker_id`
-- in a started run and step (tasks of a finished run or step are left alone, as the sweeper
-- leaves them). Each goes back to 'queued' (started_at and last_worker_id cleared) and its
-- message becomes visible now.
-- The interrupted attempt does not count: attempts_count goes back down by one, so a deploy that
-- stops workers mid-task never uses up a task's retries, and the next claim runs the same
-- attempt number again. requeued_count is not touched (that limit is for crashed workers).
-- No event is emitted: no task event can say "queued again, same attempt" without the next
-- task:started of that attempt being ignored by forward-only subscribers (docs/reference/events.md).
-- Returns how many tasks were handed back.
CREATE OR REPLACE FUNCTION pgflow.hand_back_tasks(
    flow_slug text, msg_ids bigint[], worker_id uuid, queue_name text DEFAULT NULL)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH handed_back AS (
        UPDATE pgflow.step_tasks AS t
           SET status = 'queued', started_at = NULL, last_worker_id = NULL,
               attempts_count = greatest(t.attempts_count - 1, 0)
          FROM pgflow.runs AS r, pgflow.step_states AS ss
         WHERE t.queue_name = coalesce(hand_back_tasks.queue_name, lower(hand_back_tasks.flow_slug))
           AND t.message_id = ANY (hand_back_tasks.msg_ids)
           AND t.flow_slug = hand_back_tasks.flow_slug
           AND t.status = 'started'
           AND t.last_worker_id = hand_back_tasks.worker_id
           AND r.run_id = t.run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.run_id = t.run_id AND ss.step_slug = t.step_slug AND ss.status = 'started'
        RETURNING t.message_id
    ),
    -- read by the final SELECT, so it always runs
    made_visible AS (
        SELECT count(*) AS n
          FROM pgflow.set_vt_batch(coalesce(hand_back_tasks.queue_name, lower(hand_back_tasks.flow_slug)),
                                   ARRAY(SELECT h.message_id FROM handed_back AS h),
                                   array_fill(0, ARRAY[(SELECT count(*)::int FROM handed_back)])) AS m
    )
    SELECT (SELECT count(*)::int FROM handed_back)
      FROM made_visible
$$;
