-- Statements of the realtime event hub (pgflow.live.hub). The channel names are passed as
-- psycopg.sql.Identifier, never interpolated as text.

-- name: live_sync_channels
-- Follow the channels in "add" and stop following those in "remove" (one transaction): each
-- pgflow.subscribe LISTENs and registers, so that events are sent on the channel at all.
SELECT (SELECT count(*) FROM unnest(%(remove)s::text[]) AS r(channel), LATERAL pgflow.unsubscribe(r.channel)) AS removed,
       (SELECT count(*) FROM unnest(%(add)s::text[]) AS a(channel), LATERAL pgflow.subscribe(a.channel)) AS added

-- name: live_await_event_writers
-- After new subscriptions committed: wait for the transactions that may have decided not to
-- notify before seeing them (so a snapshot read next misses nothing). False: gave up waiting.
SELECT pgflow.await_event_writers(%(timeout)s) AS settled

-- name: events_subscribe
SELECT pgflow.subscribe(%(channel)s)

-- name: events_unsubscribe
SELECT pgflow.unsubscribe(%(channel)s)

-- name: live_ping
SELECT 1

-- name: live_recent_runs
-- The newest runs (of one flow when flow_slug is not NULL) for the all-runs SSE snapshot:
-- metadata only, never input or output (a page reads statuses, not payloads).
SELECT run_id, flow_slug, status, remaining_steps, started_at, completed_at, failed_at,
       cancelled_at, left(cancel_reason, 500) AS cancel_reason, retry_of
  FROM pgflow.runs
 WHERE %(flow_slug)s::text IS NULL OR flow_slug = %(flow_slug)s::text
 ORDER BY started_at DESC, run_id DESC
 LIMIT %(limit)s::int

-- name: live_tasks_of_run
-- Some tasks of one run, by (step_slug, task_index) pairs: what a live view reads back when the
-- events left those tasks unknown (pgflow.live.index.RunState.unknown), instead of every task.
SELECT t.flow_slug, t.run_id, t.step_slug, t.task_index, t.status, t.attempts_count, t.message_id,
       t.error_message, t.output, t.queued_at, t.started_at, t.completed_at, t.failed_at, t.last_worker_id,
       t.queue_name
  FROM unnest(%(step_slugs)s::text[], %(task_indexes)s::int[]) AS k (step_slug, task_index)
  JOIN pgflow.step_tasks AS t
    ON t.run_id = %(run_id)s AND t.step_slug = k.step_slug AND t.task_index = k.task_index
 ORDER BY t.step_slug, t.task_index

-- name: live_task_counts
-- How many of one run's tasks are in each status, by step: the progress of a run followed
-- without its task events (pgflow.live.viewers), read at most once per progress interval.
SELECT step_slug, status, count(*)::int AS tasks
  FROM pgflow.step_tasks
 WHERE run_id = %(run_id)s
 GROUP BY step_slug, status
