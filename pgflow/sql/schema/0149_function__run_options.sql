-- The options of the run about to be created in this transaction (pgflow-py addition): a jsonb
-- object whose keys fill pgflow-py's own columns of pgflow.runs (priority, concurrency key, trace
-- context, ...). The Python clients set it with set_config('pgflow.run_options', <json>, true)
-- in the statement before start_flow / start_flow_at / start_flow_idempotent, so upstream's
-- signatures stay as they are; _create_run and _start_run_directly read it, and start_flow
-- clears it once the run exists, so it applies to one run only. NULL when nothing was set (every
-- TypeScript caller): each column then takes its default.
-- SQL-standard body without SET, so the planner can inline it into the INSERT that reads it.
CREATE OR REPLACE FUNCTION pgflow._run_options()
RETURNS jsonb
LANGUAGE sql
STABLE
RETURN nullif(current_setting('pgflow.run_options', true), '')::jsonb;
