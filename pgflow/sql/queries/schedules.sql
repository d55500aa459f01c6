-- Named queries of the schedule operations (pgflow/ops/schedules.py) and the scheduler.
-- %(now)s is NULL in production (the database clock is the one clock all workers share);
-- tests pass a controllable time instead.

-- name: schedules_now
SELECT coalesce(%(now)s::timestamptz, now()) AS now;

-- name: schedules_flow_exists
SELECT EXISTS (SELECT 1 FROM pgflow.flows WHERE flow_slug = %(flow_slug)s) AS found;

-- name: schedules_claim_due
-- The most overdue built-in schedule, locked for this transaction; other schedulers skip it.
SELECT s.schedule_slug, s.flow_slug, s.expression, s.timezone, s.catch_up, s.next_run_at,
       coalesce(%(now)s::timestamptz, now()) AS now
  FROM pgflow.schedules AS s
 WHERE s.enabled
   AND s.backend = 'builtin'
   AND s.next_run_at <= coalesce(%(now)s::timestamptz, now())
 ORDER BY s.next_run_at, s.schedule_slug
 LIMIT 1
   FOR UPDATE SKIP LOCKED;

-- name: schedules_advance
-- Move a claimed schedule to its next tick (the row lock of schedules_claim_due is held).
UPDATE pgflow.schedules
   SET next_run_at = %(next_run_at)s, updated_at = now()
 WHERE schedule_slug = %(schedule_slug)s
   AND next_run_at = %(due_at)s;

-- name: schedules_start_scheduled_flow
SELECT pgflow.start_scheduled_flow(%(schedule_slug)s, %(tick_at)s, %(catch_up_from)s, %(trigger)s) AS run_id;

-- name: schedules_disable_broken
UPDATE pgflow.schedules
   SET enabled = false, last_error = %(error)s, updated_at = now()
 WHERE schedule_slug = %(schedule_slug)s;

-- name: schedules_next_due
-- When the next built-in schedule is due, in seconds from now (negative: overdue), or NULL.
SELECT extract(epoch FROM min(next_run_at) - coalesce(%(now)s::timestamptz, now()))::float8 AS seconds
  FROM pgflow.schedules
 WHERE enabled AND backend = 'builtin';

-- name: schedules_select
-- One schedule, or all of them when schedule_slug is NULL.
SELECT s.*, coalesce(%(now)s::timestamptz, now()) AS now,
       (SELECT count(*) FROM pgflow.scheduled_runs AS r WHERE r.schedule_slug = s.schedule_slug) AS runs_count
  FROM pgflow.schedules AS s
 WHERE %(schedule_slug)s::text IS NULL OR s.schedule_slug = %(schedule_slug)s
 ORDER BY s.schedule_slug;

-- name: schedules_select_for_update
SELECT * FROM pgflow.schedules WHERE schedule_slug = %(schedule_slug)s FOR UPDATE;

-- name: schedules_select_by_flows
SELECT * FROM pgflow.schedules
 WHERE flow_slug = ANY(%(flow_slugs)s::text[]) OR schedule_slug = ANY(%(flow_slugs)s::text[])
 ORDER BY schedule_slug
   FOR UPDATE;

-- name: schedules_lock_sync
-- Workers starting together sync their declared schedules one after the other.
SELECT pg_advisory_xact_lock(hashtext('pgflow.schedules'), hashtext('sync'));

-- name: schedules_upsert
INSERT INTO pgflow.schedules AS s (
    schedule_slug, flow_slug, expression, timezone, input, catch_up, backend, source,
    enabled, next_run_at, orphaned_at, last_error)
VALUES (
    %(schedule_slug)s, %(flow_slug)s, %(expression)s, %(timezone)s, %(input)s::jsonb, %(catch_up)s,
    %(backend)s, %(source)s, %(enabled)s, %(next_run_at)s, NULL, NULL)
ON CONFLICT (schedule_slug) DO UPDATE
   SET flow_slug = excluded.flow_slug,
       expression = excluded.expression,
       timezone = excluded.timezone,
       input = excluded.input,
       catch_up = excluded.catch_up,
       backend = excluded.backend,
       source = excluded.source,
       enabled = excluded.enabled,
       next_run_at = excluded.next_run_at,
       orphaned_at = NULL,
       last_error = NULL,
       updated_at = now();

-- name: schedules_set_enabled
-- Pause (enabled false) or resume (enabled true, next_run_at the first tick from now, so the
-- paused time is not caught up). Resuming an orphaned code schedule adopts it as an API one.
UPDATE pgflow.schedules
   SET enabled = %(enabled)s,
       next_run_at = coalesce(%(next_run_at)s, next_run_at),
       source = CASE WHEN %(enabled)s AND orphaned_at IS NOT NULL THEN 'api' ELSE source END,
       orphaned_at = CASE WHEN %(enabled)s THEN NULL ELSE orphaned_at END,
       updated_at = now()
 WHERE schedule_slug = %(schedule_slug)s;

-- name: schedules_orphan
UPDATE pgflow.schedules
   SET enabled = false, orphaned_at = coalesce(%(now)s::timestamptz, now()), updated_at = now()
 WHERE schedule_slug = %(schedule_slug)s AND source = 'code' AND orphaned_at IS NULL;

-- name: schedules_delete
DELETE FROM pgflow.schedules WHERE schedule_slug = %(schedule_slug)s RETURNING backend;

-- name: schedules_history
-- The runs a schedule started, newest tick first.
SELECT m.run_id, m.schedule_slug, m.tick_at, m.catch_up_from, m.trigger, m.backend,
       r.flow_slug, r.status, r.started_at, r.completed_at, r.failed_at
  FROM pgflow.scheduled_runs AS m
  JOIN pgflow.runs AS r ON r.run_id = m.run_id
 WHERE m.schedule_slug = %(schedule_slug)s
 ORDER BY m.tick_at DESC, m.created_at DESC
 LIMIT %(limit)s;

-- name: schedules_pg_cron_state
-- Is pg_cron installed in this database, and in which time zone does it read schedules
-- (cron.timezone exists from pg_cron 1.5; older versions use GMT)?
SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') AS version,
       coalesce(current_setting('cron.timezone', true), 'GMT') AS timezone;

-- name: schedules_pg_cron_install
-- NULL when the job was created or replaced, else why pg_cron refused it.
SELECT pgflow._schedule_cron_job(%(job_name)s, %(fields)s, %(schedule_slug)s) AS refused;

-- name: schedules_pg_cron_remove
SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %(job_name)s;
