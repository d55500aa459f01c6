-- The pgflow schema. Nothing in it is granted to PUBLIC; grant what clients need explicitly
-- (see docs/reference/permissions.md).
CREATE SCHEMA IF NOT EXISTS pgflow;
REVOKE ALL ON SCHEMA pgflow FROM PUBLIC;
