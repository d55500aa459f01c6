-- Queries of the worker (pgflow/worker/). State transitions are the engine's SQL functions;
-- these only call them, batch them, and read what the worker needs.

-- name: worker_register
-- One row per queue the worker serves (step_tasks.last_worker_id points at it). All rows of one
-- worker process are inserted in one transaction, so they share started_at (health_check groups
-- them by function_name and started_at).
INSERT INTO pgflow.workers (worker_id, queue_name, function_name)
SELECT w.worker_id, w.queue_name, %(function_name)s
FROM unnest(%(worker_ids)s::uuid[], %(queue_names)s::text[]) AS w(worker_id, queue_name)

-- name: worker_track_function
SELECT pgflow.track_worker_function(%(function_name)s)

-- name: worker_heartbeat
UPDATE pgflow.workers
SET last_heartbeat_at = clock_timestamp()
WHERE worker_id = ANY(%(worker_ids)s::uuid[])
RETURNING worker_id, deprecated_at IS NOT NULL AS deprecated

-- name: worker_mark_stopped
SELECT pgflow.mark_worker_stopped(w.worker_id)
FROM unnest(%(worker_ids)s::uuid[]) AS w(worker_id)

-- name: worker_claim_tasks
-- Read up to qty messages and claim their tasks in one statement (one round trip, one commit).
-- The visibility (vt) covers the longest step timeout of the flow, so a message stays hidden
-- while its handler may run even if start_tasks did not extend it. Messages whose task cannot
-- start (already started, run failed) yield no task: fewer tasks than messages is normal.
-- start_tasks stamps started_at with now(), this statement's start, and a task may not start
-- before it was queued; pgmq.read can see messages committed after that instant, so those few
-- (enqueued_at > now()) are made visible again at once and left for the next read.
-- Always one row at least: "messages" is how many were read, "released" how many were put back
-- (the row has NULL task columns when no task started). attempts_count is read before
-- start_tasks increments it (the statement's snapshot), hence + 1.
WITH msgs AS MATERIALIZED (
    SELECT m.msg_id, m.enqueued_at <= now() AS claimable
    FROM pgmq.read(%(flow_slug)s, %(vt)s, %(qty)s) AS m
),
released AS MATERIALIZED (
    SELECT count(*) AS n
    FROM (SELECT array_agg(msg_id) AS ids FROM msgs WHERE NOT claimable HAVING count(*) > 0) AS late
    CROSS JOIN LATERAL pgmq.set_vt(%(flow_slug)s, late.ids, 0) AS m
),
batch AS (
    SELECT count(*) AS messages,
           coalesce(array_agg(msg_id ORDER BY msg_id) FILTER (WHERE claimable), '{}'::bigint[]) AS ids
    FROM msgs
)
SELECT batch.messages, released.n AS released,
       t.flow_slug, t.run_id, t.step_slug, t.input, t.msg_id, t.task_index, t.flow_input,
       coalesce(st.attempts_count, 0) + 1 AS attempt
FROM batch
CROSS JOIN released
LEFT JOIN LATERAL pgflow.start_tasks(%(flow_slug)s, batch.ids, %(worker_id)s::uuid) AS t ON true
LEFT JOIN pgflow.step_tasks st
       ON st.run_id = t.run_id AND st.step_slug = t.step_slug AND st.task_index = t.task_index

-- name: worker_report_tasks
-- Several complete_task / fail_task calls in one statement (one round trip, one commit), in the
-- order given. The worker sorts them by run and puts at most one step per run in a statement:
-- the engine locks a step state, then its run when the step ends, so two statements that each
-- touch one step per run, runs in the same order, can never wait for each other in a cycle.
SELECT c.ord,
       CASE WHEN c.completed
            THEN (SELECT t.status FROM pgflow.complete_task(c.run_id, c.step_slug, c.task_index,
                                                            c.output::jsonb) AS t)
            ELSE (SELECT t.status FROM pgflow.fail_task(c.run_id, c.step_slug, c.task_index,
                                                        c.error_message) AS t)
       END AS status
FROM unnest(%(run_ids)s::uuid[], %(step_slugs)s::text[], %(task_indexes)s::int[], %(completed)s::bool[],
            %(outputs)s::text[], %(errors)s::text[])
         WITH ORDINALITY AS c(run_id, step_slug, task_index, completed, output, error_message, ord)

-- name: worker_finished_runs
-- Runs among the given ones that are over, for the run.completed / run.failed telemetry events.
SELECT r.run_id, r.flow_slug, r.status,
       (SELECT s.error_message FROM pgflow.step_states s
         WHERE s.run_id = r.run_id AND s.status = 'failed' ORDER BY s.failed_at LIMIT 1) AS error_message
FROM pgflow.runs r
WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.status <> 'started'

-- name: worker_hand_back_tasks
-- At shutdown: tasks this worker claimed but will not finish go back to queued, not counting the
-- interrupted attempt, and their messages become visible at once for another worker.
WITH returned AS (
    UPDATE pgflow.step_tasks st
    SET status = 'queued',
        started_at = NULL,
        last_worker_id = NULL,
        attempts_count = greatest(st.attempts_count - 1, 0)
    FROM unnest(%(run_ids)s::uuid[], %(step_slugs)s::text[], %(task_indexes)s::int[])
             AS h(run_id, step_slug, task_index)
    WHERE st.run_id = h.run_id AND st.step_slug = h.step_slug AND st.task_index = h.task_index
      AND st.status = 'started'
      AND st.last_worker_id = ANY(%(worker_ids)s::uuid[])
    RETURNING st.flow_slug, st.message_id
)
SELECT count(*) AS handed_back
FROM returned r
CROSS JOIN LATERAL pgmq.set_vt(r.flow_slug, r.message_id, 0) AS m

-- name: worker_requeue_stalled
-- One sweeper per database at a time: whoever holds the lock sweeps, the others skip this round.
SELECT CASE WHEN pg_try_advisory_xact_lock(%(lock_key)s) THEN pgflow.requeue_stalled_tasks() END AS requeued

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
