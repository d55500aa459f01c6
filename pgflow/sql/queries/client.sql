-- Named queries of the client operations (pgflow/ops/flows.py, pgflow/ops/runs.py).

-- name: client_ensure_flow_compiled
SELECT pgflow.ensure_flow_compiled(%(flow_slug)s, %(shape)s::jsonb, %(queue_mode)s, %(route_map)s::jsonb) AS result;

-- name: client_stored_shape
-- The stored flow's FlowShape (to describe how the code differs from it).
SELECT pgflow._get_flow_shape(%(flow_slug)s) AS shape;

-- name: client_set_flow_type
UPDATE pgflow.flows
   SET flow_type = %(flow_type)s
 WHERE flow_slug = %(flow_slug)s
   AND flow_type <> %(flow_type)s;

-- name: client_flow_exists
SELECT EXISTS (SELECT 1 FROM pgflow.flows WHERE flow_slug = %(flow_slug)s) AS found;

-- name: client_select_flows
-- One flow, or every flow when flow_slug is NULL.
SELECT flow_slug, flow_type, opt_max_attempts, opt_base_delay, opt_timeout, created_at, queue_mode
  FROM pgflow.flows
 WHERE %(flow_slug)s::text IS NULL OR flow_slug = %(flow_slug)s
 ORDER BY flow_slug;

-- name: client_select_flow_steps
-- The steps of one flow (or of all flows) in step order, each with its dependencies.
SELECT s.flow_slug, s.step_slug, s.step_type, s.step_index,
       s.opt_max_attempts, s.opt_base_delay, s.opt_timeout, s.opt_start_delay,
       s.required_input_pattern, s.forbidden_input_pattern, s.when_unmet, s.when_exhausted, s.queue_name,
       ARRAY(SELECT d.dep_slug FROM pgflow.deps AS d
              WHERE d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug
              ORDER BY d.dep_slug) AS depends_on
  FROM pgflow.steps AS s
 WHERE %(flow_slug)s::text IS NULL OR s.flow_slug = %(flow_slug)s
 ORDER BY s.flow_slug, s.step_index;

-- name: client_delete_flow_and_data
SELECT pgflow.delete_flow_and_data(%(flow_slug)s);

-- name: client_start_flow
-- Only what the caller reads (the run id; start_flow_sync: has the run ended already?), not the
-- input sent back.
SELECT run_id, status
  FROM pgflow.start_flow(%(flow_slug)s, %(input)s::jsonb, %(run_id)s::uuid);

-- name: client_new_run_id
-- A run id as start_flow makes one (version 7, time-ordered), for callers that listen first.
SELECT pgflow._new_run_id() AS run_id;

-- name: client_listen_new_run
-- start_flow_sync, first of two statements sent together (one transaction): a new run id as
-- start_flow makes them, kept for this transaction in the setting pgflow.new_run_id, and
-- pgflow.subscribe (LISTEN and register) on its channel; both take effect at commit, with the run.
SELECT pgflow.subscribe('pgflow:run:' || set_config('pgflow.new_run_id', pgflow._new_run_id()::text, true));

-- name: client_start_new_run
-- start_flow_sync, second statement: start the run under the id the first one made.
SELECT run_id, status
  FROM pgflow.start_flow(%(flow_slug)s, %(input)s::jsonb, current_setting('pgflow.new_run_id')::uuid);

-- name: client_start_flow_idempotent
-- start_flow / enqueue with an idempotency key: the flow's run that holds the key, or a new one
-- (start_at and delay as in client_start_flow_at; ttl in seconds, NULL = kept forever).
SELECT run_id, status
  FROM pgflow.start_flow_idempotent(
           %(flow_slug)s,
           %(input)s::jsonb,
           %(key)s,
           make_interval(secs => %(ttl)s::float8),
           coalesce(%(start_at)s::timestamptz,
                    clock_timestamp() + make_interval(secs => coalesce(%(delay)s::float8, 0))),
           %(run_id)s::uuid);

-- name: client_start_new_run_idempotent
-- start_flow_sync with an idempotency key, second statement: as client_start_new_run; the
-- run returned is the key's existing run when its id is not new_run_id.
SELECT run_id, status, current_setting('pgflow.new_run_id')::uuid AS new_run_id
  FROM pgflow.start_flow_idempotent(%(flow_slug)s, %(input)s::jsonb, %(key)s,
                                    make_interval(secs => %(ttl)s::float8), NULL,
                                    current_setting('pgflow.new_run_id')::uuid);

-- name: client_select_run_status
SELECT status FROM pgflow.runs WHERE run_id = %(run_id)s;

-- name: client_retry_run
SELECT run_id FROM pgflow.retry_run(%(run_id)s);

-- name: client_resume_run
SELECT run_id FROM pgflow.resume_run(%(run_id)s, %(force)s);

-- name: client_find_run_ids
-- Runs whose id starts or ends with a fragment (lower-case hex and dashes; newest first).
SELECT run_id
  FROM pgflow.runs
 WHERE run_id::text LIKE %(part)s || '%%' OR run_id::text LIKE '%%' || %(part)s
 ORDER BY started_at DESC
 LIMIT %(limit)s;

-- name: client_start_flow_at
-- start_at wins; else now + delay seconds (database clock); both NULL = now.
SELECT run_id, status
  FROM pgflow.start_flow_at(
           %(flow_slug)s,
           %(input)s::jsonb,
           coalesce(%(start_at)s::timestamptz,
                    clock_timestamp() + make_interval(secs => coalesce(%(delay)s::float8, 0))),
           %(run_id)s::uuid);

-- name: client_select_run
SELECT run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at, failed_at,
       cancelled_at, cancel_reason, idempotency_key, idempotency_ttl, retry_of, retry_kind, coalesce(priority, 0) AS priority,
       concurrency_key, pgflow._run_held_by(run_id) AS held_by,
       ARRAY(SELECT n.run_id FROM pgflow.runs AS n WHERE n.retry_of = %(run_id)s
              ORDER BY n.started_at, n.run_id) AS retried_by
  FROM pgflow.runs
 WHERE run_id = %(run_id)s;

-- name: client_select_run_with_due
-- get_run: the run, and for a started run whose work all waits for later (a delayed start, a
-- start delay, a retry's backoff) when it is due (pgflow._waiting_runs).
SELECT r.run_id, r.flow_slug, r.status, r.input, r.output, r.remaining_steps, r.started_at, r.completed_at,
       r.failed_at, r.cancelled_at, r.cancel_reason, r.idempotency_key, r.idempotency_ttl, r.retry_of,
       r.retry_kind, coalesce(r.priority, 0) AS priority, r.concurrency_key, pgflow._run_held_by(r.run_id) AS held_by,
       ARRAY(SELECT n.run_id FROM pgflow.runs AS n WHERE n.retry_of = r.run_id
              ORDER BY n.started_at, n.run_id) AS retried_by,
       CASE WHEN r.status = 'started' THEN (SELECT w.due_at FROM pgflow._waiting_runs(ARRAY[r.run_id]) AS w) END AS due_at
  FROM pgflow.runs AS r
 WHERE r.run_id = %(run_id)s;

-- name: client_select_step_states
SELECT ss.step_slug, ss.status, ss.remaining_tasks, ss.remaining_deps, ss.initial_tasks, ss.output,
       ss.error_message, ss.skip_reason, ss.started_at, ss.completed_at, ss.failed_at, ss.skipped_at,
       s.step_type,
       ARRAY(SELECT d.dep_slug FROM pgflow.deps AS d
              WHERE d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug
              ORDER BY d.dep_slug) AS depends_on
  FROM pgflow.step_states AS ss
  JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
 WHERE ss.run_id = %(run_id)s
 ORDER BY s.step_index;

-- name: client_select_step_tasks
SELECT flow_slug, run_id, step_slug, task_index, status, attempts_count, message_id, error_message,
       output, queued_at, started_at, completed_at, failed_at, last_worker_id, queue_name
  FROM pgflow.step_tasks
 WHERE run_id = %(run_id)s
 ORDER BY step_slug, task_index;

-- name: client_select_runs
-- Newest first; the filter of pgflow._select_runs (each NULL filters nothing).
SELECT run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at, failed_at,
       cancelled_at, cancel_reason, idempotency_key, idempotency_ttl, retry_of, retry_kind, coalesce(priority, 0) AS priority,
       concurrency_key
  FROM pgflow._select_runs(%(flow_slug)s::text, %(status)s::text, %(since)s::timestamptz, %(until)s::timestamptz,
                           %(input)s::jsonb, NULL, NULL, %(limit)s::int);

-- name: client_prune_data_older_than
-- {"runs": n, "step_states": n, "step_tasks": n, "messages": n, "archived_messages": n, "workers": n}
-- of one call, which deletes at most max_runs runs (NULL: all); ops.runs.prune repeats it
SELECT pgflow.prune_data_older_than(%(older_than)s::interval, %(flows)s::text[], %(max_runs)s::int) AS counts;

-- name: client_active_tasks
-- The tasks of some runs that are not over yet (queued or started), with their messages.
SELECT run_id, step_slug, task_index, status, queue_name, message_id
  FROM pgflow.step_tasks
 WHERE run_id = ANY(%(run_ids)s::uuid[]) AND status IN ('queued', 'started');

-- name: client_task_due_times
-- When the run's queued tasks whose messages are still hidden become visible (read-only).
SELECT d.run_id, d.step_slug, d.task_index, d.due_at
  FROM pgflow._task_due_times(ARRAY[%(run_id)s::uuid]) AS d;

-- name: client_cancel_run
-- cancel_run: cancelled (this call ended the run), the run's status and when it was cancelled.
SELECT cancelled, status, cancelled_at FROM pgflow.cancel_run(%(run_id)s::uuid, %(reason)s::text);

-- name: client_set_run_options
-- The options of the run the next statement starts (pgflow._run_options); start_flow clears them.
SELECT set_config('pgflow.run_options', %(options)s, true);
