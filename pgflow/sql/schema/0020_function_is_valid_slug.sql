-- A slug names a flow or a step: at most 128 characters of letters, digits and single
-- underscores, starting with a letter and ending with a letter or a digit, and not the reserved
-- word "run" (reserved because handlers once received the flow input under it). "__" is kept
-- for the queue names pgflow generates (flow__step); flow slugs are further limited to 47
-- characters by create_flow (pgmq's queue name limit).
CREATE OR REPLACE FUNCTION pgflow.is_valid_slug(slug text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT slug IS NOT NULL
       AND slug <> ''
       AND length(slug) <= 128
       AND slug ~ '^[a-zA-Z]([a-zA-Z0-9_]*[a-zA-Z0-9])?$'
       AND position('__' IN slug) = 0
       AND slug <> 'run'
$$;
