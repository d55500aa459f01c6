-- A slug names a flow or a step: an identifier of at most 128 characters that is not the
-- reserved word "run" (reserved because handlers once received the flow input under it).
CREATE OR REPLACE FUNCTION pgflow.is_valid_slug(slug text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT slug IS NOT NULL
       AND slug <> ''
       AND length(slug) <= 128
       AND slug ~ '^[a-zA-Z_][a-zA-Z0-9_]*$'
       AND slug <> 'run'
$$;
