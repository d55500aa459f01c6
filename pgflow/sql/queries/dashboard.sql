-- Queries of the web dashboard (pgflow.web). Read-only; every list is bounded by a LIMIT or a
-- time window and served by an index (see pgflow/sql/schema/0600_dashboard_indexes.sql).
-- Optional filters are written as `(%(x)s IS NULL OR ...)`: the dashboard's connections never
-- prepare statements, so each query is planned with its actual values and the unused
-- branches fold away.

-- name: dashboard_session_setup
SELECT set_config('default_transaction_read_only', 'on', false),
       set_config('statement_timeout', %(statement_timeout)s, false),
       set_config('plan_cache_mode', 'force_custom_plan', false),
       set_config('application_name', 'pgflow-dashboard', false)

-- name: dashboard_table_exists
SELECT to_regclass(%(name)s) IS NOT NULL

-- name: dashboard_flows_brief
SELECT f.flow_slug, f.flow_type,
       (SELECT count(*) FROM pgflow.steps s WHERE s.flow_slug = f.flow_slug)::int AS step_count
FROM pgflow.flows f
ORDER BY f.flow_slug

-- ---------------------------------------------------------------------------------- overview

-- name: dashboard_running_count
-- Started runs, and those of them whose work all waits for later (enqueued for later, a start
-- delay, a retry's backoff: pgflow._waiting_runs reads each queue holding such tasks once).
-- A run with a task being worked on (started, and not a wait that begins later) or a queued
-- task a worker can read now cannot be waiting, so only the other started runs go to
-- _waiting_runs: asked about every run, it reads every queued task's message, 10,000 of them
-- while a big map drains (0.4-2.4 s under load). The busy runs come from the small partial index
-- of started tasks (idx_step_tasks_last_worker); _runs_with_visible_tasks stops at a run's first
-- visible message.
WITH started AS MATERIALIZED (
    SELECT r.run_id FROM pgflow.runs AS r WHERE r.status = 'started'
), busy AS MATERIALIZED (
    SELECT DISTINCT t.run_id
      FROM pgflow.step_tasks AS t
     WHERE t.status = 'started'
       AND NOT EXISTS (SELECT 1 FROM pgflow.waits AS w
                        WHERE w.run_id = t.run_id AND w.step_slug = t.step_slug AND w.task_index = t.task_index
                          AND w.due_at = w.since AND w.since > now())
), idle AS MATERIALIZED (
    SELECT s.run_id FROM started AS s WHERE NOT EXISTS (SELECT 1 FROM busy AS b WHERE b.run_id = s.run_id)
)
SELECT (SELECT count(*) FROM started)::bigint AS started,
       (SELECT count(*)
          FROM pgflow._waiting_runs(ARRAY(
                   SELECT i.run_id FROM idle AS i
                   EXCEPT SELECT v.run_id FROM pgflow._runs_with_visible_tasks(ARRAY(SELECT run_id FROM idle)) AS v (run_id)))
       )::bigint AS waiting

-- name: dashboard_waiting_runs
-- Of these started runs, those whose work all waits for later, with when it is due.
SELECT w.run_id, w.due_at FROM pgflow._waiting_runs(%(run_ids)s::uuid[]) AS w

-- name: dashboard_run_buckets
-- Runs started per time bucket and status. One index-only range scan per status on
-- (status, started_at, run_id): the heap is not read, so wide windows stay cheap.
SELECT s.status, b.bucket, b.n
FROM unnest(ARRAY['started', 'completed', 'failed']) AS s (status)
CROSS JOIN LATERAL (
    SELECT date_bin(%(bucket)s::interval, r.started_at, %(origin)s::timestamptz) AS bucket, count(*)::bigint AS n
    FROM pgflow.runs r
    WHERE r.status = s.status AND r.started_at >= %(since)s
    GROUP BY 1
) b
ORDER BY b.bucket

-- name: dashboard_run_durations
-- Average and p95 run time of the latest completed runs in the window (at most %(sample)s,
-- newest first), so the cost is bounded however many runs the window holds.
SELECT count(*)::bigint AS n,
       avg(seconds)::float8 AS avg_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds)::float8 AS p95_seconds
FROM (
    SELECT extract(epoch FROM r.completed_at - r.started_at) AS seconds
    FROM pgflow.runs r
    WHERE r.status = 'completed' AND r.started_at >= %(since)s
      AND (%(flow_slug)s::text IS NULL OR r.flow_slug = %(flow_slug)s)
    ORDER BY r.started_at DESC
    LIMIT %(sample)s
) latest

-- name: dashboard_recent_failures
SELECT r.run_id, r.flow_slug, r.started_at, r.failed_at, fs.step_slug AS failed_step, fs.error_message
FROM pgflow.runs r
LEFT JOIN LATERAL (
    SELECT ss.step_slug, ss.error_message
    FROM pgflow.step_states ss
    WHERE ss.run_id = r.run_id AND ss.status = 'failed'
    LIMIT 1
) fs ON true
WHERE r.status = 'failed' AND r.started_at >= %(since)s
ORDER BY r.started_at DESC, r.run_id DESC
LIMIT %(limit)s

-- name: dashboard_failing_steps
SELECT flow_slug, step_slug, count(*)::bigint AS n, max(failed_at) AS last_failed_at
FROM pgflow.step_states
WHERE status = 'failed' AND failed_at >= %(since)s
GROUP BY flow_slug, step_slug
ORDER BY n DESC, flow_slug, step_slug
LIMIT %(limit)s

-- name: dashboard_queue_metrics
-- Each pgmq queue with the type of the flow that owns it (a flow's queue is lower(flow_slug); a
-- step queue is named by its step's queue_name).
SELECT m.*, (SELECT f.flow_type
               FROM pgflow.flows AS f
              WHERE lower(f.flow_slug) = m.queue_name
                 OR f.flow_slug = (SELECT s.flow_slug FROM pgflow.steps AS s WHERE s.queue_name = m.queue_name LIMIT 1)
              LIMIT 1) AS flow_type
FROM pgmq.metrics_all() m
ORDER BY m.queue_length DESC, m.queue_name

-- ---------------------------------------------------------------------------------- runs

-- name: dashboard_runs_page
-- One page of runs next to the cursor (started_at, run_id): when `newer` is false, the runs strictly
-- older than it (from the newest run without a cursor), newest first; when `newer` is true, the runs
-- strictly newer than it, oldest first (the caller reverses them). The filters are written once, in
-- `matching`; NOT MATERIALIZED inlines it into both branches, so each reads the keyset index in its
-- own direction, and the branch the direction rules out folds away.
WITH matching AS NOT MATERIALIZED (
    SELECT r.run_id, r.flow_slug, r.status, r.started_at, r.completed_at, r.failed_at, r.remaining_steps,
           r.cancelled_at
    FROM pgflow.runs r
    WHERE (%(flow_slug)s::text IS NULL OR r.flow_slug = %(flow_slug)s)
      AND (%(flow_slugs)s::text[] IS NULL OR r.flow_slug = ANY(%(flow_slugs)s::text[]))
      AND (%(status)s::text IS NULL OR r.status = %(status)s)
      AND (NOT %(scheduled)s OR EXISTS (SELECT 1 FROM pgflow.scheduled_runs sr WHERE sr.run_id = r.run_id))
      AND (%(since)s::timestamptz IS NULL OR r.started_at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR r.started_at < %(until)s)
)
(SELECT m.* FROM matching m
 WHERE NOT %(newer)s::boolean
   AND (%(cursor_at)s::timestamptz IS NULL OR (m.started_at, m.run_id) < (%(cursor_at)s::timestamptz, %(cursor_id)s::uuid))
 ORDER BY m.started_at DESC, m.run_id DESC
 LIMIT %(limit)s)
UNION ALL
(SELECT m.* FROM matching m
 WHERE %(newer)s::boolean
   AND (m.started_at, m.run_id) > (%(cursor_at)s::timestamptz, %(cursor_id)s::uuid)
 ORDER BY m.started_at ASC, m.run_id ASC
 LIMIT %(limit)s)

-- name: dashboard_schedules_of_runs
SELECT sr.run_id, sr.schedule_slug, sr.tick_at, sr.trigger
FROM pgflow.scheduled_runs sr
WHERE sr.run_id = ANY(%(run_ids)s::uuid[])

-- name: dashboard_failed_steps_of_runs
SELECT DISTINCT ON (ss.run_id) ss.run_id, ss.step_slug, ss.error_message
FROM pgflow.step_states ss
WHERE ss.run_id = ANY(%(run_ids)s::uuid[]) AND ss.status = 'failed'
ORDER BY ss.run_id, ss.failed_at

-- ---------------------------------------------------------------------------------- one run

-- name: dashboard_run
-- held_by: why flow control keeps a started run's queued tasks back (NULL: it does not; one index
-- probe for a flow without flow control)
SELECT r.*, f.flow_type, sr.schedule_slug, sr.tick_at, sr.trigger, pgflow._run_held_by(r.run_id) AS held_by
FROM pgflow.runs r
JOIN pgflow.flows f ON f.flow_slug = r.flow_slug
LEFT JOIN pgflow.scheduled_runs sr ON sr.run_id = r.run_id
WHERE r.run_id = %(run_id)s

-- name: dashboard_flow_steps
SELECT s.step_slug, s.step_type, s.step_index, s.deps_count,
       s.opt_max_attempts, s.opt_base_delay, s.opt_timeout, s.opt_start_delay,
       s.when_unmet, s.when_exhausted,
       coalesce((SELECT array_agg(d.dep_slug ORDER BY d.dep_slug)
                 FROM pgflow.deps d
                 WHERE d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug), '{}') AS deps
FROM pgflow.steps s
WHERE s.flow_slug = %(flow_slug)s
ORDER BY s.step_index, s.step_slug

-- name: dashboard_run_step_states
SELECT ss.step_slug, ss.status, ss.remaining_tasks, ss.initial_tasks, ss.remaining_deps,
       ss.output, ss.error_message, ss.skip_reason,
       ss.created_at, ss.started_at, ss.completed_at, ss.failed_at, ss.skipped_at
FROM pgflow.step_states ss
WHERE ss.run_id = %(run_id)s

-- name: dashboard_run_task_summary
SELECT t.step_slug,
       count(*)::int AS total,
       count(*) FILTER (WHERE t.status = 'queued')::int AS queued,
       count(*) FILTER (WHERE t.status = 'started')::int AS started,
       count(*) FILTER (WHERE t.status = 'completed')::int AS completed,
       count(*) FILTER (WHERE t.status = 'failed')::int AS failed,
       count(*) FILTER (WHERE t.attempts_count > 1)::int AS retried,
       coalesce(sum(t.attempts_count), 0)::int AS attempts
FROM pgflow.step_tasks t
WHERE t.run_id = %(run_id)s
GROUP BY t.step_slug

-- name: dashboard_run_tasks
-- A run's tasks: problems (failed or retried) first, then by step and index, bounded.
SELECT t.step_slug, t.task_index, t.status, t.attempts_count, t.error_message, t.output,
       t.queued_at, t.started_at, t.completed_at, t.failed_at, t.last_worker_id, t.message_id,
       t.requeued_count
FROM pgflow.step_tasks t
WHERE t.run_id = %(run_id)s
  AND (%(step_slug)s::text IS NULL OR t.step_slug = %(step_slug)s)
ORDER BY (t.status = 'failed' OR t.attempts_count > 1) DESC, t.step_slug, t.task_index
LIMIT %(limit)s

-- name: dashboard_run_older
SELECT r.run_id, r.status, r.started_at
FROM pgflow.runs r
WHERE r.flow_slug = %(flow_slug)s AND (r.started_at, r.run_id) < (%(started_at)s::timestamptz, %(run_id)s::uuid)
ORDER BY r.started_at DESC, r.run_id DESC
LIMIT 1

-- name: dashboard_run_newer
SELECT r.run_id, r.status, r.started_at
FROM pgflow.runs r
WHERE r.flow_slug = %(flow_slug)s AND (r.started_at, r.run_id) > (%(started_at)s::timestamptz, %(run_id)s::uuid)
ORDER BY r.started_at ASC, r.run_id ASC
LIMIT 1

-- ---------------------------------------------------------------------------------- flows and jobs

-- name: dashboard_flows
SELECT f.flow_slug, f.flow_type, f.created_at, f.opt_max_attempts, f.opt_base_delay, f.opt_timeout,
       (SELECT count(*) FROM pgflow.steps s WHERE s.flow_slug = f.flow_slug)::int AS step_count,
       w.total, w.completed, w.failed, w.running,
       last.run_id AS last_run_id, last.status AS last_status, last.started_at AS last_started_at
FROM pgflow.flows f
LEFT JOIN LATERAL (
    SELECT count(*)::bigint AS total,
           count(*) FILTER (WHERE r.status = 'completed')::bigint AS completed,
           count(*) FILTER (WHERE r.status = 'failed')::bigint AS failed,
           count(*) FILTER (WHERE r.status = 'started')::bigint AS running
    FROM pgflow.runs r
    WHERE r.flow_slug = f.flow_slug AND r.started_at >= %(since)s
) w ON true
LEFT JOIN LATERAL (
    SELECT r.run_id, r.status, r.started_at
    FROM pgflow.runs r
    WHERE r.flow_slug = f.flow_slug
    ORDER BY r.started_at DESC, r.run_id DESC
    LIMIT 1
) last ON true
WHERE f.flow_type = %(flow_type)s
ORDER BY f.flow_slug

-- name: dashboard_flow
SELECT f.* FROM pgflow.flows f WHERE f.flow_slug = %(flow_slug)s

-- name: dashboard_flow_window_stats
SELECT count(*)::bigint AS total,
       count(*) FILTER (WHERE status = 'completed')::bigint AS completed,
       count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
       count(*) FILTER (WHERE status = 'started')::bigint AS running
FROM pgflow.runs
WHERE flow_slug = %(flow_slug)s AND started_at >= %(since)s

-- name: dashboard_flow_recent_runs
SELECT r.run_id, r.flow_slug, r.status, r.started_at, r.completed_at, r.failed_at, r.remaining_steps,
       r.cancelled_at
FROM pgflow.runs r
WHERE r.flow_slug = %(flow_slug)s
ORDER BY r.started_at DESC, r.run_id DESC
LIMIT %(limit)s

-- name: dashboard_step_states_of_runs
SELECT ss.run_id, ss.step_slug, ss.status, ss.started_at, ss.completed_at, ss.failed_at, ss.skipped_at,
       ss.initial_tasks, ss.remaining_tasks, ss.error_message
FROM pgflow.step_states ss
WHERE ss.run_id = ANY(%(run_ids)s::uuid[])

-- ---------------------------------------------------------------------------------- workers

-- name: dashboard_workers
-- Workers seen since a point in time, with their health derived from heartbeats.
SELECT w.worker_id, w.queue_name, w.function_name, w.started_at, w.deprecated_at, w.stopped_at,
       w.last_heartbeat_at,
       CASE WHEN w.stopped_at IS NOT NULL THEN 'stopped'
            WHEN w.last_heartbeat_at >= now() - %(stale_after)s::interval THEN 'healthy'
            WHEN w.last_heartbeat_at >= now() - %(dead_after)s::interval THEN 'stale'
            ELSE 'dead' END AS health,
       (SELECT count(*) FROM pgflow.step_tasks t
        WHERE t.last_worker_id = w.worker_id AND t.status = 'started')::int AS active_tasks
FROM pgflow.workers w
WHERE (%(since)s::timestamptz IS NULL OR w.last_heartbeat_at >= %(since)s)
ORDER BY (w.stopped_at IS NULL) DESC, w.last_heartbeat_at DESC, w.worker_id
LIMIT %(limit)s

-- name: dashboard_worker_health_counts
-- Worker processes per health: a process registers one row per queue, all inserted together
-- (same function_name and started_at), so they are counted once.
SELECT health, count(*)::bigint AS n
FROM (
    SELECT CASE WHEN max(w.stopped_at) IS NOT NULL THEN 'stopped'
                WHEN max(w.last_heartbeat_at) >= now() - %(stale_after)s::interval THEN 'healthy'
                WHEN max(w.last_heartbeat_at) >= now() - %(dead_after)s::interval THEN 'stale'
                ELSE 'dead' END AS health
    FROM pgflow.workers w
    WHERE w.last_heartbeat_at >= %(since)s
    GROUP BY w.function_name, w.started_at
) h
GROUP BY health

-- name: dashboard_worker
SELECT w.*,
       CASE WHEN w.stopped_at IS NOT NULL THEN 'stopped'
            WHEN w.last_heartbeat_at >= now() - %(stale_after)s::interval THEN 'healthy'
            WHEN w.last_heartbeat_at >= now() - %(dead_after)s::interval THEN 'stale'
            ELSE 'dead' END AS health,
       (SELECT count(*) FROM pgflow.step_tasks t
        WHERE t.last_worker_id = w.worker_id AND t.status = 'started')::int AS active_tasks
FROM pgflow.workers w
WHERE w.worker_id = %(worker_id)s

-- name: dashboard_worker_tasks
SELECT t.run_id, t.flow_slug, t.step_slug, t.task_index, t.status, t.attempts_count, t.error_message,
       t.queued_at, t.started_at, t.completed_at, t.failed_at
FROM pgflow.step_tasks t
WHERE t.last_worker_id = %(worker_id)s
ORDER BY t.started_at DESC NULLS LAST
LIMIT %(limit)s

-- name: dashboard_worker_flows
SELECT t.flow_slug, count(*)::bigint AS tasks, max(t.started_at) AS last_task_at
FROM (
    SELECT t.flow_slug, t.started_at
    FROM pgflow.step_tasks t
    WHERE t.last_worker_id = %(worker_id)s
    ORDER BY t.started_at DESC NULLS LAST
    LIMIT 1000
) t
GROUP BY t.flow_slug
ORDER BY tasks DESC

-- ---------------------------------------------------------------------------------- schedules
-- (run only when pgflow.schedules exists)

-- name: dashboard_schedules
SELECT s.*,
       (SELECT count(*) FROM pgflow.scheduled_runs sr WHERE sr.schedule_slug = s.schedule_slug)::bigint AS run_count,
       lr.status AS last_run_status
FROM pgflow.schedules s
LEFT JOIN pgflow.runs lr ON lr.run_id = s.last_run_id
ORDER BY s.schedule_slug

-- name: dashboard_schedule
SELECT s.*, f.flow_type,
       (SELECT count(*) FROM pgflow.scheduled_runs sr WHERE sr.schedule_slug = s.schedule_slug)::bigint AS run_count
FROM pgflow.schedules s
LEFT JOIN pgflow.flows f ON f.flow_slug = s.flow_slug
WHERE s.schedule_slug = %(schedule_slug)s

-- name: dashboard_schedules_of_flow
SELECT s.* FROM pgflow.schedules s WHERE s.flow_slug = %(flow_slug)s ORDER BY s.schedule_slug

-- name: dashboard_scheduled_flow_slugs
SELECT DISTINCT s.flow_slug FROM pgflow.schedules s

-- name: dashboard_schedule_history
-- The runs a schedule started, newest tick first (index idx_scheduled_runs_schedule).
SELECT sr.tick_at, sr.trigger, sr.catch_up_from, r.run_id, r.flow_slug, r.status, r.started_at,
       r.completed_at, r.failed_at, r.remaining_steps, r.cancelled_at
FROM pgflow.scheduled_runs sr
JOIN pgflow.runs r ON r.run_id = sr.run_id
WHERE sr.schedule_slug = %(schedule_slug)s
ORDER BY sr.tick_at DESC
LIMIT %(limit)s
