-- The concurrency key of a run of flow p_flow_slug about to start with input p_input and run
-- options p_options (pgflow._run_options(); pgflow-py flow control: _create_run and
-- _start_run_directly store it in runs.concurrency_key). Numbered before them (their SQL bodies
-- are checked when created):
--   the caller's run option concurrency_key (a Python callable's result),
--   else, when the flow's limits name a concurrency_key path or a per-key limit
--   (max_running_per_key, rate_limit_per_key), the text
--   at that path of the input ("customer.id" -> input #>> '{customer,id}'; a number as its
--   digits) or '' when the input lacks it (null included): the "no key" group, limited like any
--   key, so a run without a key is neither refused nor let past the limit;
--   else NULL (the flow has no per-key limit: nothing to count, one primary-key probe).
-- SQL-standard body without SET (names bound at creation), so the run insert inlines it: a start
-- pays the probe, not a function call.
CREATE OR REPLACE FUNCTION pgflow._run_concurrency_key(p_flow_slug text, p_input jsonb, p_options jsonb)
RETURNS text
LANGUAGE sql
STABLE
RETURN coalesce(
    p_options ->> 'concurrency_key',
    (SELECT CASE WHEN c.limits ?| ARRAY['concurrency_key', 'max_running_per_key', 'rate_limit_per_key']
                 THEN coalesce(p_input #>> string_to_array(c.limits ->> 'concurrency_key', '.'), '') END
       FROM pgflow.flow_controls AS c
      WHERE c.flow_slug = p_flow_slug));
