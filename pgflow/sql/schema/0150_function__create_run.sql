-- Insert a run of a flow and one step state per step, and emit run:started. Root steps have no
-- pending dependency; a single step has one task, a root map step one per element of the input,
-- a dependent map step an unknown number (NULL) until its dependency completes.
-- Returns the run id. The input must already be checked (pgflow._check_run_input).
-- pgflow-py's own run columns come from pgflow._run_options() (the caller's options, or NULL).
-- Twin of the run insert in _start_run_directly: a column set here is set there the same way.
CREATE OR REPLACE FUNCTION pgflow._create_run(p_flow_slug text, p_input jsonb, p_run_id uuid)
RETURNS uuid
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH run AS (
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps, trace_context,
                                 signal_key, parent_run_id, parent_step_slug, parent_task_index, priority,
                                 concurrency_key)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), f.flow_slug, p_input,
               (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = f.flow_slug),
               options.o -> 'trace_context',
               options.o ->> 'signal_key', (options.o ->> 'parent_run_id')::uuid,
               options.o ->> 'parent_step_slug', (options.o ->> 'parent_task_index')::int,
               coalesce((options.o ->> 'priority')::int, 0),
               pgflow._run_concurrency_key(f.flow_slug, p_input, options.o)
          FROM pgflow.flows AS f
         CROSS JOIN (SELECT pgflow._run_options() AS o) AS options
         WHERE f.flow_slug = p_flow_slug
        RETURNING runs.run_id, runs.flow_slug, runs.input,
            pgflow._emit(pgflow._run_event('run:started', runs)) AS emitted
    ),
    states AS (
        INSERT INTO pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks)
        SELECT s.flow_slug, run.run_id, s.step_slug, s.deps_count,
               CASE WHEN s.step_type = 'single' THEN 1
                    WHEN s.deps_count = 0 THEN jsonb_array_length(run.input)
               END
          FROM run
          JOIN pgflow.steps AS s ON s.flow_slug = run.flow_slug
    )
    SELECT run.run_id FROM run;
$$;
