"""scripts/audit_dependencies.py: a real advisory fails CI, an unreachable database never does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[2] / "scripts" / "audit_dependencies.py"
_spec = importlib.util.spec_from_file_location("audit_dependencies", _path)
assert _spec is not None and _spec.loader is not None
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

JINJA_ADVISORY = {"id": "GHSA-cpwx-vrp4-4pq7", "aliases": ["CVE-2025-27516"], "fix_versions": ["3.1.6"]}


def test_a_known_vulnerability_fails_naming_the_package_the_advisory_and_the_fix():
    report = {"dependencies": [{"name": "click", "version": "8.1.8", "vulns": []},
                               {"name": "jinja2", "version": "3.1.5", "vulns": [JINJA_ADVISORY]}]}
    code, message = audit.verdict(report, 1)
    assert code == 1
    assert "1 known vulnerability" in message
    assert "jinja2 3.1.5: GHSA-cpwx-vrp4-4pq7 CVE-2025-27516 (fixed in 3.1.6)" in message


def test_a_vulnerability_fails_even_when_other_dependencies_could_not_be_looked_up():
    report = {"dependencies": [{"name": "anyio", "skip_reason": "Dependency not found on PyPI"},
                               {"name": "jinja2", "version": "3.1.5", "vulns": [JINJA_ADVISORY]}]}
    assert audit.verdict(report, 1)[0] == 1


def test_an_unreachable_database_is_said_and_passes():
    nothing_looked_up = {"dependencies": [{"name": "anyio", "skip_reason": "Dependency not found on PyPI"}]}
    code, message = audit.verdict(nothing_looked_up, 0)
    assert code == 0 and "skipped, its vulnerability database" in message and "none of the 1" in message
    code, message = audit.verdict(None, 1, "ConnectionError: Max retries exceeded with url: /pypi/click/8.1.8/json")
    assert code == 0 and "not reachable" in message and "Max retries exceeded" in message


def test_a_clean_audit_passes_and_counts_what_was_audited():
    report = {"dependencies": [{"name": "click", "version": "8.1.8", "vulns": []},
                               {"name": "anyio", "skip_reason": "Dependency not found on PyPI"}]}
    assert audit.verdict(report, 0) == (0, "pip-audit: no known vulnerabilities in 1 dependencies "
                                           "(1 could not be looked up)")


def test_pip_audit_failing_for_another_reason_fails_the_check():
    code, message = audit.verdict(None, 1, "Traceback (most recent call last):\nKeyError: 'dependencies'")
    assert code == 1 and "wrote no report" in message and "KeyError" in message
