-- Raise PF004 unless `p_slug` is a valid slug; `p_what` names it in the message ("flow slug").
CREATE OR REPLACE FUNCTION pgflow._check_slug(p_what text, p_slug text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow.is_valid_slug(p_slug) THEN
        PERFORM pgflow._definition_error(format('invalid %s %L', p_what, p_slug),
            'A slug starts with a letter, continues with letters, digits and single underscores, ends with '
            || 'a letter or a digit, has at most 128 characters and is not "run" ("__" is kept for queue names).');
    END IF;
END;
$$;
