-- What start_tasks returns for each claimed task.
CREATE TYPE pgflow.step_task_record AS (
    flow_slug text,
    run_id uuid,
    step_slug text,
    input jsonb,
    msg_id bigint,
    task_index int,
    flow_input jsonb
);
