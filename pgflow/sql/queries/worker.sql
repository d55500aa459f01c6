-- Queries of the worker (pgflow/worker/). State transitions are the engine's SQL functions;
-- these only call them, batch them, and read what the worker needs.

-- name: worker_register
-- One row per queue the worker serves (step_tasks.last_worker_id points at it). All rows of one
-- worker process are inserted in one transaction, so they share started_at (health_check groups
-- them by function_name and started_at). pgflow_version says which worker it is
-- ('pgflow-py/<version>'; a TypeScript worker writes its package version).
INSERT INTO pgflow.workers (worker_id, queue_name, function_name, pgflow_version)
SELECT w.worker_id, w.queue_name, %(function_name)s, %(pgflow_version)s
FROM unnest(%(worker_ids)s::uuid[], %(queue_names)s::text[]) AS w(worker_id, queue_name)

-- name: worker_track_function
-- A long-running process, not a function a supervisor starts over HTTP: start_mode 'process'.
SELECT pgflow.track_worker_function(%(function_name)s, 'process')

-- name: worker_heartbeat
-- Also answers which runs of the worker's tasks in flight were cancelled (cancel_run), so that
-- the worker stops their handlers: no query of its own, and none per task.
UPDATE pgflow.workers
SET last_heartbeat_at = clock_timestamp()
WHERE worker_id = ANY(%(worker_ids)s::uuid[])
RETURNING worker_id, deprecated_at IS NOT NULL AS deprecated,
          (SELECT array_agg(r.run_id) FROM pgflow.runs AS r
            WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.cancelled_at IS NOT NULL) AS cancelled_runs

-- name: worker_mark_stopped
SELECT pgflow.mark_worker_stopped(w.worker_id)
FROM unnest(%(worker_ids)s::uuid[]) AS w(worker_id)

-- name: worker_claim_tasks
-- Read up to qty messages of a queue and claim their tasks in one call (one round trip, one
-- commit; step_slug for a step's private queue, else NULL), see
-- pgflow.claim_tasks: each message is hidden for its step's timeout + 2 s; messages whose task
-- cannot start (already started, run failed) yield no task, so fewer tasks than messages is
-- normal. "messages" is how many were read (no row: none). claim_tasks leaves messages enqueued
-- after its start for the next read (the poller reads again when their notification comes).
-- The claim commits without waiting for its WAL flush (synchronous_commit = off for this one
-- transaction): a claim lost in a crash only means its tasks are delivered again, which retries
-- allow anyway, and the report that follows is durable (its flush covers the claim). It keeps
-- the database-wide lock PostgreSQL holds while committing a NOTIFY (task:started) short.
-- A root single step's handler takes flow_input, so its input ({}) is not sent (NULL).
-- No parameter may decide the shape of the plan here: a CASE on a "traced" flag (the runs'
-- trace contexts read in the same statement) made every custom plan cheaper than the generic
-- one, and the claim was planned anew on each call (~40 us: a fiftieth of a job's server time);
-- worker_trace_contexts reads them in a query of its own, only when a tracer wants task spans.
SELECT c.messages, c.flow_slug, c.run_id, c.step_slug,
       CASE WHEN c.flow_input IS NULL THEN c.input END AS input, c.msg_id, c.task_index,
       c.flow_input, c.attempt
FROM set_config('synchronous_commit', 'off', true) AS async_commit
CROSS JOIN pgflow.claim_tasks(%(queue_name)s, %(qty)s, %(worker_id)s::uuid, %(step_slug)s) AS c

-- name: worker_trace_contexts
-- The W3C trace context each of some runs was started in (only those that have one).
SELECT r.run_id, r.trace_context
  FROM pgflow.runs AS r
 WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.trace_context IS NOT NULL

-- name: worker_report_tasks
-- Several outcomes in one statement (one round trip, one commit): the completions in one
-- pgflow.complete_tasks call (set-based; same result as complete_task for each), then each
-- failure with fail_task. The worker sorts outcomes by run and puts at most one step per run in
-- a statement (complete_tasks locks step states, then runs, each in one global order).
-- The outcomes come as one JSON array (cheaper for the worker to build than six typed arrays,
-- and the outputs are JSON already): [run_id, step_slug, task_index, true, output] for a
-- completion, [run_id, step_slug, task_index, false, error_message] for a failure.
WITH reports AS (
    SELECT (o.e ->> 0)::uuid AS run_id, o.e ->> 1 AS step_slug, (o.e ->> 2)::int AS task_index,
           (o.e -> 3)::bool AS completed,
           CASE WHEN (o.e -> 3)::bool THEN o.e -> 4 END AS output,
           CASE WHEN NOT (o.e -> 3)::bool THEN o.e ->> 4 END AS error_message,
           o.ord
    FROM jsonb_array_elements(%(outcomes)s::jsonb) WITH ORDINALITY AS o(e, ord)
),
completions AS MATERIALIZED (
    SELECT done.run_id, done.step_slug, done.task_index, done.status
    FROM pgflow.complete_tasks(
        ARRAY(SELECT r.run_id FROM reports AS r WHERE r.completed ORDER BY r.ord),
        ARRAY(SELECT r.step_slug FROM reports AS r WHERE r.completed ORDER BY r.ord),
        ARRAY(SELECT r.task_index FROM reports AS r WHERE r.completed ORDER BY r.ord),
        ARRAY(SELECT r.output FROM reports AS r WHERE r.completed ORDER BY r.ord)) AS done
),
completed_first AS MATERIALIZED (
    SELECT count(*) AS n FROM completions
)
SELECT r.ord,
       CASE WHEN r.completed
            THEN (SELECT c.status FROM completions AS c
                   WHERE c.run_id = r.run_id AND c.step_slug = r.step_slug AND c.task_index = r.task_index
                   LIMIT 1)
            ELSE (SELECT t.status FROM pgflow.fail_task(r.run_id, r.step_slug, r.task_index, r.error_message) AS t)
       END AS status
FROM reports AS r
CROSS JOIN completed_first
ORDER BY r.ord

-- name: worker_finished_runs
-- Runs among the given ones that are over, for the run.completed / run.failed telemetry events.
SELECT r.run_id, r.flow_slug, r.status,
       (SELECT s.error_message FROM pgflow.step_states s
         WHERE s.run_id = r.run_id AND s.status = 'failed' ORDER BY s.failed_at LIMIT 1) AS error_message
FROM pgflow.runs r
WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.status <> 'started'

-- name: worker_hand_back_tasks
-- At shutdown: the tasks this worker claimed but will not finish, one pgflow.hand_back_tasks
-- call per queue (one row per task in the arrays: its flow, the queue its message was read
-- from, the message and the worker id that claimed it). Returns how many were handed back.
SELECT coalesce(sum(pgflow.hand_back_tasks(g.flow_slug, g.msg_ids, g.worker_id, g.queue_name)), 0)::int AS handed_back
FROM (SELECT h.flow_slug, h.queue_name, h.worker_id, array_agg(h.msg_id) AS msg_ids
        FROM unnest(%(flow_slugs)s::text[], %(queue_names)s::text[], %(msg_ids)s::bigint[], %(worker_ids)s::uuid[])
                 AS h(flow_slug, queue_name, msg_id, worker_id)
       GROUP BY h.flow_slug, h.queue_name, h.worker_id) AS g

-- name: worker_requeue_stalled
-- One sweeper per database at a time: whoever holds the lock sweeps, the others skip this round.
-- The sweep also forgets the event subscriptions of sessions that died without unsubscribing,
-- so a killed dashboard or client stops costing every transaction a lookup and a NOTIFY.
-- (`forgot` is read by nobody: a select-list item is how one statement makes that void call.)
WITH sweep AS (SELECT pg_try_advisory_xact_lock(%(lock_key)s) AS mine)
SELECT CASE WHEN mine THEN pgflow.requeue_stalled_tasks() END AS requeued,
       CASE WHEN mine THEN pgflow._forget_gone_subscribers() IS NULL END AS forgot
  FROM sweep

-- name: worker_run_input
SELECT input FROM pgflow.runs WHERE run_id = %(run_id)s::uuid

-- name: worker_notify_lock
-- Workers starting together enable a queue's notifications one at a time (in a transaction).
SELECT pg_advisory_xact_lock(hashtextextended('pgflow.enable_notify:' || %(queue_name)s, 0))

-- name: worker_notify_throttle
SELECT throttle_interval_ms FROM pgmq.notify_insert_throttle WHERE queue_name = %(queue_name)s

-- name: worker_enable_notify
SELECT pgmq.enable_notify_insert(%(queue_name)s, %(throttle_ms)s)

-- name: worker_queue_lengths
-- Messages left in each queue (visible or not): the drain helper waits for zero.
SELECT q.queue_name, (pgmq.metrics(q.queue_name)).queue_length AS queue_length
FROM unnest(%(queue_names)s::text[]) AS q(queue_name)

-- name: worker_health
-- Registered workers grouped per process (rows inserted together share function_name and
-- started_at), newest first, limited to those seen within the window.
SELECT w.function_name,
       w.started_at,
       array_agg(w.worker_id ORDER BY w.queue_name) AS worker_ids,
       array_agg(w.queue_name ORDER BY w.queue_name) AS queues,
       max(w.last_heartbeat_at) AS last_heartbeat_at,
       max(w.deprecated_at) AS deprecated_at,
       max(w.stopped_at) AS stopped_at,
       extract(epoch FROM clock_timestamp() - max(w.last_heartbeat_at))::float8 AS heartbeat_age,
       (SELECT count(*) FROM pgflow.step_tasks st
         WHERE st.status = 'started' AND st.last_worker_id = ANY(array_agg(w.worker_id))) AS tasks_in_flight
FROM pgflow.workers w
WHERE w.last_heartbeat_at > clock_timestamp() - make_interval(secs => %(window)s)
GROUP BY w.function_name, w.started_at
ORDER BY w.started_at DESC
