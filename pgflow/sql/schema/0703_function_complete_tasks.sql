-- Report task outputs, many in one call (one round trip, one commit), element i of each array
-- describing one task; complete_task is this function with one report. The result is what
-- reporting the tasks one at a time would leave, the clean reports (below) first: same rows,
-- same events (per run in a valid order: task:completed, step:completed, dependents'
-- step:started, run:completed), messages archived. Returns each reported task's status
-- afterwards, in the order given (NULL status for an unknown task).
--
-- Set-based where it is safe: tasks that are started, of a started step of a started run, are
-- completed with one statement per table, whatever their number (a map step's tasks lower its
-- remaining_tasks once per call, not once per task). Everything else - late or repeated
-- reports, outputs that may violate a dependent map's type - goes through _complete_task_apply,
-- one by one. Locks: every reported step state first (ordered by run, step), then the runs
-- whose step completes (ordered by run).
-- Twin: _complete_task_apply applies one report the same way; guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py (every outcome).
CREATE OR REPLACE FUNCTION pgflow.complete_tasks(run_ids uuid[], step_slugs text[], task_indexes int[], outputs jsonb[])
RETURNS TABLE (run_id uuid, step_slug text, task_index int, status text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_fast bigint[];       -- ordinals of the reports that take the set-based path
    v_lock_runs uuid[];
    v_gone uuid[];
    v_done_runs uuid[];
    v_done_steps text[];
    v_slow record;
    v_events boolean := pgflow._events_wanted();
BEGIN
    IF cardinality(run_ids) IS DISTINCT FROM cardinality(step_slugs)
       OR cardinality(run_ids) IS DISTINCT FROM cardinality(task_indexes)
       OR cardinality(run_ids) IS DISTINCT FROM cardinality(outputs) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('complete_tasks got arrays of different lengths (%s run ids, %s step slugs, '
                             '%s task indexes, %s outputs)', cardinality(run_ids), cardinality(step_slugs),
                             cardinality(task_indexes), cardinality(outputs)),
            HINT = 'Pass one element per task in each of the four arrays.';
    END IF;

    -- Every lookup below probes the primary key for each report (LATERAL ... OFFSET 0, or TIDs
    -- collected that way): whatever the statistics say, a plan that scans the started tasks
    -- would also walk the dead index entries they leave behind, and a map leaves thousands.
    -- (For the same reason this function keeps custom plans: a generic plan of the task update
    -- scanned the partial index of started tasks, 15 s instead of 3 s for a 10,000-item map.)
    PERFORM 1
       FROM (SELECT DISTINCT u.run_id, u.step_slug
               FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs) AS u (run_id, step_slug)
              ORDER BY u.run_id, u.step_slug) AS u
      CROSS JOIN LATERAL (SELECT 1 FROM pgflow.step_states AS ss
                           WHERE ss.run_id = u.run_id AND ss.step_slug = u.step_slug
                             FOR UPDATE OF ss) AS locked;

    -- the clean reports: the first report of a started task of a started step of a started run,
    -- whose output cannot violate a dependent map's type; and the runs where a step completes
    SELECT array_agg(x.ord), array_agg(DISTINCT x.run_id) FILTER (WHERE x.completes_step)
      INTO v_fast, v_lock_runs
      FROM (SELECT u.ord, u.run_id,
                   count(*) OVER (PARTITION BY u.run_id, u.step_slug) = ss.remaining_tasks AS completes_step
              FROM (SELECT DISTINCT ON (u.run_id, u.step_slug, u.task_index) u.*
                      FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes,
                                  complete_tasks.outputs) WITH ORDINALITY AS u (run_id, step_slug, task_index, output, ord)
                     ORDER BY u.run_id, u.step_slug, u.task_index, u.ord) AS u
              CROSS JOIN LATERAL (SELECT t.status FROM pgflow.step_tasks AS t
                                   WHERE t.run_id = u.run_id AND t.step_slug = u.step_slug
                                     AND t.task_index = u.task_index OFFSET 0) AS t
              JOIN pgflow.step_states AS ss ON ss.run_id = u.run_id AND ss.step_slug = u.step_slug
              JOIN pgflow.runs AS r ON r.run_id = u.run_id
              JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
             WHERE t.status = 'started' AND ss.status = 'started' AND NOT pgflow._is_terminal(r.status)
               AND r.run_id = ANY (complete_tasks.run_ids)  -- probe runs by key, never scan them
               AND NOT (s.step_type = 'single' AND jsonb_typeof(u.output) IS DISTINCT FROM 'array'
                        AND EXISTS (SELECT 1
                                      FROM pgflow.deps AS d
                                      JOIN pgflow.steps AS m ON m.flow_slug = d.flow_slug AND m.step_slug = d.step_slug
                                     WHERE d.flow_slug = s.flow_slug AND d.dep_slug = s.step_slug
                                       AND m.step_type = 'map'))) AS x;

    IF v_lock_runs IS NOT NULL THEN
        -- a run that failed meanwhile sends its reports down the one-by-one path (which archives)
        SELECT array_agg(locked.run_id) FILTER (WHERE pgflow._is_terminal(locked.status)) INTO v_gone
          FROM (SELECT r.run_id, r.status FROM pgflow.runs AS r
                 WHERE r.run_id = ANY (v_lock_runs) ORDER BY r.run_id FOR UPDATE OF r) AS locked;
        IF v_gone IS NOT NULL THEN
            v_fast := ARRAY(SELECT o FROM unnest(v_fast) AS o WHERE complete_tasks.run_ids[o::int] <> ALL (v_gone));
        END IF;
    END IF;

    IF cardinality(v_fast) > 0 THEN
        WITH reported AS (
            SELECT u.run_id, u.step_slug, u.task_index, u.output
              FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes,
                          complete_tasks.outputs) WITH ORDINALITY AS u (run_id, step_slug, task_index, output, ord)
             WHERE u.ord = ANY (v_fast)
        ),
        completed AS (
            UPDATE pgflow.step_tasks AS t
               SET status = 'completed', output = rep.output, completed_at = now()
              FROM reported AS rep
             WHERE t.ctid = ANY (ARRAY(
                       SELECT k.ctid
                         FROM reported AS r
                        CROSS JOIN LATERAL (SELECT p.ctid FROM pgflow.step_tasks AS p
                                             WHERE p.run_id = r.run_id AND p.step_slug = r.step_slug
                                               AND p.task_index = r.task_index OFFSET 0) AS k))
               AND t.run_id = rep.run_id AND t.step_slug = rep.step_slug AND t.task_index = rep.task_index
               AND t.status = 'started'
            RETURNING t.flow_slug, t.run_id, t.step_slug, t.task_index, t.message_id, t.queue_name, t.output,
                CASE WHEN v_events THEN pgflow._emit(pgflow._task_event('task:completed', t)) END AS emitted
        ),
        archived AS (
            SELECT count(*) AS n
              FROM (SELECT c.queue_name, array_agg(c.message_id) AS ids FROM completed AS c GROUP BY c.queue_name) AS q
             CROSS JOIN LATERAL pgmq.archive(q.queue_name, q.ids) AS a
        ),
        steps AS (
            UPDATE pgflow.step_states AS ss
               SET remaining_tasks = ss.remaining_tasks - c.n,
                   status = CASE WHEN ss.remaining_tasks = c.n THEN 'completed' ELSE ss.status END,
                   completed_at = CASE WHEN ss.remaining_tasks = c.n THEN now() END,
                   output = CASE
                       WHEN ss.remaining_tasks > c.n THEN NULL
                       WHEN s.step_type = 'single' THEN c.output
                       ELSE (SELECT coalesce(jsonb_agg(coalesce(mine.output, t.output) ORDER BY t.task_index), '[]'::jsonb)
                               FROM pgflow.step_tasks AS t
                               LEFT JOIN completed AS mine
                                 ON mine.run_id = t.run_id AND mine.step_slug = t.step_slug
                                AND mine.task_index = t.task_index
                              WHERE t.run_id = ss.run_id AND t.step_slug = ss.step_slug)
                   END
              FROM (SELECT c.run_id, c.step_slug, count(*)::int AS n, (array_agg(c.output))[1] AS output
                      FROM completed AS c GROUP BY c.run_id, c.step_slug) AS c,
                   pgflow.steps AS s
             WHERE ss.run_id = c.run_id AND ss.step_slug = c.step_slug
               AND s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
            RETURNING ss.run_id, ss.step_slug, ss.status
        )
        SELECT array_agg(st.run_id ORDER BY st.run_id, st.step_slug) FILTER (WHERE st.status = 'completed'),
               array_agg(st.step_slug ORDER BY st.run_id, st.step_slug) FILTER (WHERE st.status = 'completed')
          INTO v_done_runs, v_done_steps
          FROM steps AS st
         CROSS JOIN archived;

        IF v_done_runs IS NOT NULL THEN
            PERFORM pgflow._finish_steps(v_done_runs, v_done_steps);
        END IF;
    END IF;

    -- the reports that are not clean, one by one (none when every report took the set-based path)
    IF cardinality(v_fast) IS DISTINCT FROM cardinality(complete_tasks.run_ids) THEN
        FOR v_slow IN
            SELECT u.run_id, u.step_slug, u.task_index, u.output
              FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes,
                          complete_tasks.outputs) WITH ORDINALITY AS u (run_id, step_slug, task_index, output, ord)
             WHERE NOT (u.ord = ANY (coalesce(v_fast, '{}')))
             ORDER BY u.ord
        LOOP
            PERFORM pgflow._complete_task_apply(v_slow.run_id, v_slow.step_slug, v_slow.task_index, v_slow.output);
        END LOOP;
    END IF;

    RETURN QUERY
        SELECT u.run_id, u.step_slug, u.task_index, t.status
          FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes)
               WITH ORDINALITY AS u (run_id, step_slug, task_index, ord)
          LEFT JOIN LATERAL (SELECT p.status FROM pgflow.step_tasks AS p
                              WHERE p.run_id = u.run_id AND p.step_slug = u.step_slug
                                AND p.task_index = u.task_index OFFSET 0) AS t ON true
         ORDER BY u.ord;
END;
$$;
