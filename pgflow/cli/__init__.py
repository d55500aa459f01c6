"""The ``pgflow`` command: a thin client over the public API.

Each command group lives in its own module and maps to public API calls; no SQL here.
Tables for people, ``--json`` for scripts. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import click

from pgflow.cli.common import main_group

# command groups register themselves on import
from pgflow.cli import db as _db  # noqa: F401,E402
from pgflow.cli import dashboard as _dashboard  # noqa: F401,E402
from pgflow.cli import flows as _flows, run_commands as _run_commands, runs as _runs  # noqa: F401,E402
from pgflow.cli import flows_control as _flows_control  # noqa: F401,E402
from pgflow.cli import runs_cancel as _runs_cancel  # noqa: F401,E402
from pgflow.cli import runs_retry as _runs_retry  # noqa: F401,E402
from pgflow.cli import runs_resume as _runs_resume  # noqa: F401,E402
from pgflow.cli import runs_signal as _runs_signal  # noqa: F401,E402
from pgflow.cli import worker as _worker  # noqa: F401,E402
from pgflow.cli import metrics as _metrics  # noqa: F401,E402
from pgflow.cli import schedules as _schedules  # noqa: F401,E402


def main() -> None:
    """Entry point of the ``pgflow`` console script."""
    main_group(prog_name="pgflow")


__all__ = ["main", "main_group"]

if __name__ == "__main__":  # pragma: no cover
    main()
