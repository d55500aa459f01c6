-- Queries used by pgflow.migrate (install, status, check).

-- name: pgmq_state
SELECT
    to_regnamespace('pgmq') IS NOT NULL AND to_regclass('pgmq.meta') IS NOT NULL AS installed,
    (SELECT extversion FROM pg_extension WHERE extname = 'pgmq') AS extversion,
    to_regproc('pgmq.enable_notify_insert') IS NOT NULL AS has_notify_insert

-- name: pgmq_extension_available
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq')

-- name: pgflow_without_ledger
SELECT to_regclass('pgflow.flows') IS NOT NULL AND to_regclass('pgflow.schema_migrations') IS NULL

-- name: ledger_exists
SELECT to_regclass('pgflow.schema_migrations') IS NOT NULL

-- name: ledger_create
CREATE SCHEMA IF NOT EXISTS pgflow;
CREATE TABLE IF NOT EXISTS pgflow.schema_migrations (
    version int PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    catalog jsonb
)

-- name: ledger_rows
SELECT version, name, checksum, applied_at FROM pgflow.schema_migrations ORDER BY version

-- name: ledger_insert
INSERT INTO pgflow.schema_migrations (version, name, checksum) VALUES (%(version)s, %(name)s, %(checksum)s)

-- name: ledger_store_catalog
UPDATE pgflow.schema_migrations SET catalog = %(catalog)s
WHERE version = (SELECT max(version) FROM pgflow.schema_migrations)

-- name: ledger_stored_catalog
SELECT catalog FROM pgflow.schema_migrations WHERE catalog IS NOT NULL ORDER BY version DESC LIMIT 1

-- name: catalog_objects
-- Every object of schema pgflow with a digest of its definition. Used to detect drift and by
-- the migration test (migrations applied == declared schema).
WITH objects AS (
    SELECT 'table ' || c.relname AS object,
           string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                      || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                      ', ' ORDER BY a.attnum) AS definition
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE n.nspname = 'pgflow' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> 'schema_migrations'
    GROUP BY c.relname
    UNION ALL
    SELECT 'constraint ' || c.relname || '.' || con.conname, pg_get_constraintdef(con.oid)
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'pgflow' AND c.relname <> 'schema_migrations'
    UNION ALL
    SELECT 'index ' || i.relname, pg_get_indexdef(i.oid)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE n.nspname = 'pgflow' AND t.relname <> 'schema_migrations'
    UNION ALL
    SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           pg_get_functiondef(p.oid)
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'pgflow' AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'type ' || t.typname,
           coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                     FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0), t.typtype::text)
    FROM pg_type t
    JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'pgflow' AND t.typtype IN ('c', 'e', 'd')
      AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
    UNION ALL
    SELECT 'trigger ' || c.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
    FROM pg_trigger tg
    JOIN pg_class c ON c.oid = tg.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'pgflow' AND NOT tg.tgisinternal
    UNION ALL
    SELECT 'sequence ' || c.relname, 'sequence'
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'pgflow' AND c.relkind = 'S' AND c.relname NOT LIKE 'schema_migrations%%'
)
SELECT object, md5(definition) AS digest FROM objects ORDER BY object

-- name: install_run_unless
-- The printed install script (pgflow db sql) runs pgmq's install and each migration only when
-- needed: the body runs unless the condition holds, quoted with a dollar quote it never contains.
DO $pgflow_install$
BEGIN
    IF NOT ({condition}) THEN
        EXECUTE {quote}
{body}
{quote};
    END IF;
END
$pgflow_install$

-- name: grant_role_exists
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s)

-- name: grant_setup
SELECT set_config('pgflow.grant_role', %(role)s, true), set_config('pgflow.grant_as', %(kind)s, true)

-- name: grant_privileges
-- What each kind of role may do (pgflow db grant ROLE --as KIND; docs/guides/operations.md):
--   dashboard  read every table; run the functions that act with the caller's rights (the table
--              privileges then stop any write) and get_run_with_states; nothing else
--   client     the dashboard's, and start, cancel, retry and schedule runs: INSERT and UPDATE on the
--              tables, every function but the worker's sweep (requeue_stalled_tasks); no DELETE
--   worker     everything on the rows of pgflow's and pgmq's tables and every function, and TRIGGER
--              (pgmq's insert notifications are a trigger on each queue table); no other DDL
-- Future tables and functions of the installing role (new queues, new migrations) are covered by
-- ALTER DEFAULT PRIVILEGES. The role and kind come from grant_setup (a DO block takes no parameters).
DO $grant$
DECLARE
    r text := current_setting('pgflow.grant_role');
    k text := current_setting('pgflow.grant_as');
    f regprocedure;
    writes text := CASE k WHEN 'worker' THEN 'SELECT, INSERT, UPDATE, DELETE, TRIGGER'
                          WHEN 'client' THEN 'SELECT, INSERT, UPDATE' ELSE 'SELECT' END;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgflow, pgmq TO %I', r);
    EXECUTE format('GRANT %s ON ALL TABLES IN SCHEMA pgflow, pgmq TO %I', writes, r);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA pgflow, pgmq GRANT %s ON TABLES TO %I', writes, r);
    EXECUTE format('GRANT %s ON ALL SEQUENCES IN SCHEMA pgflow, pgmq TO %I',
                   CASE k WHEN 'dashboard' THEN 'SELECT' ELSE 'SELECT, USAGE, UPDATE' END, r);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA pgflow, pgmq GRANT %s ON SEQUENCES TO %I',
                   CASE k WHEN 'dashboard' THEN 'SELECT' ELSE 'SELECT, USAGE, UPDATE' END, r);
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace IN ('pgflow'::regnamespace, 'pgmq'::regnamespace) AND p.prokind = 'f'
          AND (k = 'worker' OR NOT p.prosecdef
               OR p.oid = 'pgflow.get_run_with_states(uuid)'::regprocedure
               OR (k = 'client' AND p.proname <> 'requeue_stalled_tasks'))
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, r);
    END LOOP;
    IF k = 'worker' THEN
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA pgflow, pgmq GRANT EXECUTE ON FUNCTIONS TO %I', r);
    END IF;
END
$grant$
