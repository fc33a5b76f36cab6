"""scripts/audit.py: a known vulnerability fails CI; a package no advisory service answered for is named, not trusted."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("audit", Path(__file__).resolve().parent.parent / "scripts" / "audit.py")
audit = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(audit)

CLEAN_NPM = {"vulnerabilities": {}, "metadata": {}}


def _answers(monkeypatch, *, python: dict, npm: dict) -> None:
    def run(command, **options):
        report = python if "pip-audit" in command[0] else npm
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(report), stderr="")

    monkeypatch.setattr(audit.subprocess, "run", run)


def test_it_fails_on_a_known_python_vulnerability(monkeypatch, capsys):
    python = {"dependencies": [{"name": "django", "version": "6.1.0", "vulns": [{"id": "PYSEC-1", "fix_versions": ["6.1.1"]}]}]}
    _answers(monkeypatch, python=python, npm=CLEAN_NPM)

    assert audit.main() == 1
    assert "VULNERABLE django 6.1.0: PYSEC-1 (fixed in 6.1.1)" in capsys.readouterr().out


@pytest.mark.parametrize(("severity", "fails"), [("high", True), ("critical", True), ("moderate", False)])
def test_it_fails_on_a_high_or_critical_npm_vulnerability_only(monkeypatch, severity, fails):
    npm = {"vulnerabilities": {"htmx.org": {"severity": severity, "range": "<2.0.12"}}}
    _answers(monkeypatch, python={"dependencies": []}, npm=npm)

    assert audit.main() == (1 if fails else 0)


def test_packages_it_could_not_audit_are_named_and_fail_only_when_strict(monkeypatch, capsys):
    python = {"dependencies": [{"name": "celery", "skip_reason": "Dependency not found on PyPI"}]}
    _answers(monkeypatch, python=python, npm={"message": "405 Method Not Allowed"})

    assert audit.main() == 0
    out = capsys.readouterr().out
    assert "1 Python package(s) could not be audited" in out and "celery" in out
    assert "could not audit every npm package" in out
    monkeypatch.setenv("AUDIT_STRICT", "1")
    assert audit.main() == 1
