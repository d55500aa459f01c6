-- Queries of the Prometheus metrics (pgflow.metrics). A scrape reads what changed since the
-- previous one, never the whole history: runs started since then (idx_runs_started_at) or still
-- active at it (by primary key), the tasks of those runs (by primary key), the queues' own
-- counts, the live workers. `since` is the previous scrape's database time minus an overlap
-- (transactions commit after their timestamps); the caller drops what it already counted.

-- name: metrics_clock
SELECT now() AS now

-- name: metrics_active_runs
-- The runs in flight when a scraper starts (its first scrape counts changes from there).
SELECT r.run_id FROM pgflow.runs AS r WHERE r.status = 'started'

-- name: metrics_runs
SELECT r.run_id, r.flow_slug, r.status, r.started_at
FROM pgflow.runs AS r
WHERE r.started_at > %(since)s OR r.run_id = ANY(%(active)s::uuid[])

-- name: metrics_tasks
-- Tasks of those runs that started, ended or were requeued since: queue wait (queued to
-- started) and duration (started to completed) in seconds.
WITH seen AS (
    SELECT r.run_id FROM pgflow.runs AS r
    WHERE r.started_at > %(since)s OR r.run_id = ANY(%(active)s::uuid[])
)
SELECT t.run_id, t.flow_slug, t.step_slug, t.task_index, t.attempts_count, t.status,
       t.started_at > %(since)s AS started_since,
       coalesce(t.completed_at, t.failed_at) > %(since)s AS ended_since,
       t.last_requeued_at > %(since)s AS requeued_since, t.last_requeued_at,
       extract(epoch FROM t.started_at - t.queued_at)::float8 AS queue_wait,
       extract(epoch FROM t.completed_at - t.started_at)::float8 AS duration
FROM seen
JOIN pgflow.step_tasks AS t ON t.run_id = seen.run_id
WHERE t.started_at > %(since)s OR t.completed_at > %(since)s OR t.failed_at > %(since)s
   OR t.last_requeued_at > %(since)s

-- name: metrics_ticks
-- Runs the schedules started for a tick since.
SELECT s.run_id, s.schedule_slug
FROM pgflow.runs AS r
JOIN pgflow.scheduled_runs AS s ON s.run_id = r.run_id
WHERE r.started_at > %(since)s AND s.trigger = 'tick'

-- name: metrics_queues
-- Each pgflow queue's messages (in flight included) and its oldest message's age.
SELECT m.queue_name, m.queue_length, coalesce(m.oldest_msg_age_sec, 0) AS oldest_msg_age_sec
FROM pgmq.metrics_all() AS m
WHERE m.queue_name IN (SELECT f.flow_slug FROM pgflow.flows AS f
                       UNION SELECT s.queue_name FROM pgflow.steps AS s)

-- name: metrics_workers
-- Worker rows (one per worker process and queue) that are not stopped and heartbeat recently.
SELECT w.queue_name, count(*)::int AS workers
FROM pgflow.workers AS w
WHERE w.stopped_at IS NULL AND w.deprecated_at IS NULL
  AND w.last_heartbeat_at > now() - make_interval(secs => %(alive_seconds)s)
GROUP BY w.queue_name
