-- pgflow-py migration 0023_queued_tasks_in_order: written by hand; the generated
-- 0024_read_queued_in_order adds the function that reads this index in order.

-- ============================================================================================
-- idx_step_tasks_queued gains message_id as its third column, so that a run's queued tasks of a
-- step come out in message order and a read can stop after the few it needs. The index holds
-- queued tasks only: building it reads step_tasks once and holds off writes to it meanwhile
-- (seconds on millions of tasks).
-- ============================================================================================

DROP INDEX pgflow.idx_step_tasks_queued;
CREATE INDEX idx_step_tasks_queued ON pgflow.step_tasks (run_id, step_slug, message_id) WHERE status = 'queued';
