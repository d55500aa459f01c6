-- pgflow-py migration 0014_privileges: no pgflow function is executable by PUBLIC any more, now or
-- later. Until now every function was (PostgreSQL's default), including the SECURITY DEFINER ones
-- (get_run_with_states, start_flow_with_states, requeue_stalled_tasks): any role with USAGE on the
-- schema could start runs of any flow as the owner. The owner (the installing role) keeps every
-- right; other roles get theirs from `pgflow db grant ROLE --as worker|client|dashboard`
-- (docs/guides/operations.md). Written by hand; it runs after the functions of 0013 exist.

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgflow FROM PUBLIC;

-- functions the installing role creates later (new migrations) are not executable by PUBLIC either;
-- a per-schema default cannot take away PostgreSQL's global one, so this is the role's default in
-- this database (install as a role that owns only the pgflow and pgmq schemas)
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
