-- The pgflow schema. Nothing in it is granted to PUBLIC: grant the roles of clients and workers
-- what they use explicitly (USAGE on the schemas pgflow and pgmq, and the functions, tables
-- and queue tables they call or read).
CREATE SCHEMA IF NOT EXISTS pgflow;
REVOKE ALL ON SCHEMA pgflow FROM PUBLIC;
