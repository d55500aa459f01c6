-- A queue name pgflow stores (steps.queue_name, step_tasks.queue_name): non-empty, at most 47
-- characters (pgmq's limit) and in the lower-case spelling pgmq gives its tables.
CREATE OR REPLACE FUNCTION pgflow.is_valid_queue_name(queue_name text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT queue_name IS NOT NULL
       AND queue_name <> ''
       AND length(queue_name) <= 47
       AND queue_name = lower(queue_name)
$$;
