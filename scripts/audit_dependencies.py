"""Known advisories of the installed dependencies, with pip-audit, for CI.

    python scripts/audit_dependencies.py

Exit 1 when pip-audit reports a vulnerability (each is printed: package, version, advisory, the
versions that fix it). Exit 0, saying so, when its vulnerability database (PyPI's JSON API) cannot
be reached — no network, a mirror without that API — so a missing network never fails CI: a
dependency that could not be looked up is not audited, and pip-audit itself would call an audit
in which nothing was looked up clean. The editable install of this project is skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def verdict(report: dict[str, Any] | None, returncode: int, stderr: str = "") -> tuple[int, str]:
    """(exit code, message) for a pip-audit JSON report (None when pip-audit wrote none)."""
    deps = (report or {}).get("dependencies", [])
    found = [(d["name"], d.get("version", "?"), v) for d in deps for v in d.get("vulns", [])]
    if found:
        lines = [f"  {name} {version}: {v.get('id')} {' '.join(v.get('aliases', []))}".rstrip()
                 + f" (fixed in {', '.join(v.get('fix_versions', [])) or 'no release yet'})"
                 for name, version, v in found]
        return 1, (f"pip-audit: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'} in the "
                   f"installed dependencies; raise their floors in pyproject.toml:\n" + "\n".join(lines))
    audited = [d for d in deps if "skip_reason" not in d]
    if report is None and not _unreachable(stderr):
        return 1, f"pip-audit failed (exit {returncode}) and wrote no report: {stderr.strip()[-500:] or 'no output'}"
    if report is None or not audited:
        reason = (stderr.strip().splitlines() or ["no report"])[-1] if report is None else \
            f"none of the {len(deps)} dependencies could be looked up"
        return 0, (f"pip-audit: skipped, its vulnerability database (PyPI's JSON API) is not reachable from "
                   f"here ({reason}); the dependencies were not audited")
    if returncode != 0:
        return 1, f"pip-audit failed (exit {returncode}) without reporting a vulnerability: {stderr.strip()[-500:]}"
    skipped = len(deps) - len(audited)
    return 0, (f"pip-audit: no known vulnerabilities in {len(audited)} dependencies"
               + (f" ({skipped} could not be looked up)" if skipped else ""))


# what pip-audit (requests/urllib3) says when it cannot reach PyPI's JSON API
_NETWORK_WORDS = ("ConnectionError", "Max retries exceeded", "Name or service not known", "Temporary failure in name",
                  "timed out", "Network is unreachable", "Connection refused", "404 Client Error", "SSLError")


def _unreachable(stderr: str) -> bool:
    return any(word in stderr for word in _NETWORK_WORDS)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        done = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--skip-editable", "--format", "json",
             "--output", str(out), "--timeout", "20"],
            capture_output=True, text=True,
        )
        try:
            report = json.loads(out.read_text())
        except (OSError, ValueError):
            report = None
    code, message = verdict(report, done.returncode, done.stderr)
    print(message, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
