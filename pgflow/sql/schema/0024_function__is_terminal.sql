-- Whether a run, a step state or a task with this status is over: 'completed', 'failed',
-- 'skipped' or 'cancelled' (a task of a failed run), the statuses no transition leaves. The engine's one spelling of "the run (step)
-- is over"; "still going" is NOT pgflow._is_terminal(status). (In Python: RunStatus.is_terminal
-- and its siblings in pgflow.models.)
-- No SET clause, so that PostgreSQL inlines it into the calling statement (it never inlines a
-- function with SET): the body is SQL-standard, its names bound when it is created.
CREATE OR REPLACE FUNCTION pgflow._is_terminal(p_status text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN p_status IN ('completed', 'failed', 'skipped', 'cancelled');
