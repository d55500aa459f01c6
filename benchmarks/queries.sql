-- Queries of the benchmark harness (not of pgflow-py itself).

-- name: pgflow_start_runs
-- Pre-fill: n runs of one flow started in one statement, so the fill is never what is timed.
-- (In the select list, so it runs once per row: a lateral call that does not depend on the row
-- would be evaluated once.)
SELECT count(*) FROM (
    SELECT (pgflow.start_flow(%(flow_slug)s, %(input)s::jsonb)).run_id FROM generate_series(1, %(n)s)
) AS started

-- name: pgflow_runs_left
SELECT EXISTS (SELECT 1 FROM pgflow.runs WHERE status = 'started')

-- name: pgflow_run_status
SELECT status FROM pgflow.runs WHERE run_id = %(run_id)s

-- name: pgmq_send_batch
SELECT pgmq.send_batch(%(queue)s, array_fill('{}'::jsonb, ARRAY[%(n)s::int]))

-- name: footprint_tables
-- The tables whose rows and bytes count as pgflow-py's (and pgmq's) footprint.
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid) AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('pgflow', 'pgmq') AND c.relkind IN ('r', 'p')

-- name: count_rows
SELECT count(*) FROM {table}

-- name: history_chunk
-- n completed runs of a one-step job, finished 30 days ago and 1 ms apart, in one statement: the
-- run, its step state, its task and its archived queue message, as a worker leaves them (set-based:
-- a million runs take about a minute, through the engine it would be hours). Run ids are version 7
-- UUIDs of each run's start, as pgflow._new_run_id() would have made them then (time-ordered,
-- older than any live run). Message ids are negative: below every id the queue hands out later,
-- as older messages are.
WITH g AS (
    SELECT i, now() - interval '30 days' - i * interval '1 ms' AS t
    FROM generate_series(%(first)s::bigint, %(first)s::bigint + %(n)s::bigint - 1) AS i
),
runs AS (
    INSERT INTO pgflow.runs (run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at)
    SELECT encode(set_bit(set_bit(
               overlay(uuid_send(gen_random_uuid())
                       PLACING substring(int8send((extract(epoch FROM g.t) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
               52, 1), 53, 1), 'hex')::uuid,
           %(flow_slug)s, 'completed', jsonb_build_object('n', 1), jsonb_build_object(%(step_slug)s::text, NULL), 0,
           g.t, g.t + interval '4 ms'
    FROM g
    RETURNING run_id, started_at, completed_at
),
states AS (
    INSERT INTO pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, initial_tasks,
                                    remaining_deps, output, created_at, started_at, completed_at)
    SELECT %(flow_slug)s, run_id, %(step_slug)s, 'completed', 0, 1, 0, 'null'::jsonb,
           started_at, started_at, completed_at
    FROM runs
    RETURNING run_id, started_at, completed_at
),
tasks AS (
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, message_id, task_index, status, attempts_count,
                                   output, queued_at, started_at, completed_at, queue_name)
    SELECT %(flow_slug)s, run_id, %(step_slug)s, -row_number() OVER () - %(first)s::bigint, 0, 'completed', 1,
           'null'::jsonb, started_at, started_at, completed_at, lower(%(flow_slug)s)
    FROM states
    RETURNING run_id, message_id, queued_at, completed_at
)
INSERT INTO pgmq.{table} (msg_id, read_ct, enqueued_at, archived_at, vt, message)
SELECT message_id, 1, queued_at, completed_at, completed_at,
       jsonb_build_object('flow_slug', %(flow_slug)s::text, 'run_id', run_id, 'step_slug', %(step_slug)s::text,
                          'task_index', 0)
FROM tasks

-- name: prune_table_stats
-- Rows, dead rows and bytes (indexes and TOAST included) of every pgflow and pgmq table.
SELECT n.nspname || '.' || c.relname, coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0),
       pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname IN ('pgflow', 'pgmq') AND c.relkind IN ('r', 'p')
ORDER BY 1

-- name: wal_position
SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint

-- name: vacuum_analyze
VACUUM ANALYZE

-- name: pgmq_missing
SELECT to_regclass('pgmq.meta') IS NULL

-- name: pgmq_recreate_queue
SELECT pgmq.drop_queue(q.queue_name) FROM pgmq.list_queues() AS q WHERE q.queue_name = %(queue)s

-- name: pgmq_create_queue
SELECT pgmq.create(%(queue)s)

-- name: pgmq_read
SELECT msg_id FROM pgmq.read(%(queue)s, 30, %(qty)s)

-- name: pgmq_archive
SELECT pgmq.archive(%(queue)s, %(ids)s::bigint[])

-- name: pgmq_left
SELECT EXISTS (SELECT 1 FROM pgmq.q_bench_floor)

-- name: pgqueuer_left
SELECT EXISTS (SELECT 1 FROM pgqueuer)

-- name: procrastinate_left
SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE status IN ('todo', 'doing'))

-- name: procrastinate_drop
DROP TABLE IF EXISTS procrastinate_jobs CASCADE

-- name: profile_top_statements
-- The statements of this database that took the most time (pg_stat_statements, track = all).
SELECT calls, total_exec_time, total_plan_time, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time + total_plan_time DESC
LIMIT %(top)s

-- name: ts_register_worker
-- The compatible path (benchmarks/systems/compat_sys.py): the statements a pgflow 0.17.1
-- TypeScript flow worker sends, as tests/compat/ts_worker.py sends them (the tested copy).
INSERT INTO pgflow.workers (queue_name, worker_id, function_name, pgflow_version)
VALUES (%(queue)s, %(worker_id)s, 'bench-compat', '0.17.1')

-- name: ts_read_with_poll
SELECT msg_id::text AS msg_id, read_ct, enqueued_at, vt, message, headers
  FROM pgmq.read_with_poll(queue_name => %(queue)s, vt => %(vt)s, qty => %(qty)s,
                           max_poll_seconds => %(max_poll)s, poll_interval_ms => %(poll_ms)s)

-- name: ts_start_tasks
SELECT * FROM pgflow.start_tasks(
    flow_slug => %(flow_slug)s::text, msg_ids => %(msg_ids)s::bigint[],
    worker_id => %(worker_id)s::uuid, queue_name => %(queue)s::text, step_slug => NULL::text)

-- name: ts_complete_task
SELECT pgflow.complete_task(run_id => %(run_id)s::uuid, step_slug => %(step_slug)s::text,
                            task_index => %(task_index)s::int, output => %(output)s::jsonb)

-- name: flow_control_set_limit
SELECT pgflow.set_flow_limits(%(flow_slug)s, jsonb_build_object('max_running', %(max_running)s::int))

-- name: flow_control_clear_runs
-- Between fairness measurements: forget the runs of the previous one (their queues are empty).
DELETE FROM pgflow.step_tasks;
DELETE FROM pgflow.step_states;
DELETE FROM pgflow.runs;

-- name: flow_control_prioritize_tenant
UPDATE pgflow.runs SET priority = %(priority)s WHERE input->>'tenant' = %(tenant)s AND status = 'started'

-- name: flow_control_tenant_waits
-- p50 and p95 of how long the tenant's tasks waited in the queue (claimed at minus queued at).
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.started_at - t.queued_at)),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t.started_at - t.queued_at))
  FROM pgflow.step_tasks AS t
  JOIN pgflow.runs AS r ON r.run_id = t.run_id
 WHERE r.input->>'tenant' = %(tenant)s

-- name: flow_control_limit_of
SELECT (limits->>'max_running')::int FROM pgflow.flow_controls WHERE flow_slug = %(flow_slug)s

-- name: scaling_backends
-- The worker processes' connections to the database (they name themselves "pgflow worker ...",
-- their built-in scheduler "pgflow scheduler").
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend'
  AND (application_name LIKE 'pgflow worker%' OR application_name = 'pgflow scheduler')

-- name: scaling_dead_rows
-- Row versions left dead by updates (HOT ones included) and deletes, in pgflow's and pgmq's tables.
SELECT coalesce(sum(n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables
WHERE schemaname IN ('pgflow', 'pgmq')

-- name: prune_batch
-- One bounded call of pgflow's pruning (its own transaction in an autocommit session).
SELECT pgflow.prune_data_older_than(%(keep)s::interval, NULL, %(batch)s::int)
