"""Dependency audit (docs/SECURITY.md, "Dependencies"): pip-audit over the virtualenv, npm audit over the bundle.

Fails (exit 1) on a known vulnerability: any in a Python dependency (pip-audit reports no severity) or a high or
critical one in the npm packages the bundle ships. A package the advisory service could not answer for is listed by
name and counted apart, never as safe; AUDIT_STRICT=1 fails on those too, for networks where the services answer.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def python_audit() -> tuple[list[str], list[str]]:
    """(vulnerabilities found, packages that could not be audited) among the installed Python packages."""
    run = subprocess.run(
        [str(VENV_BIN / "pip-audit"), "--skip-editable", "--vulnerability-service", "pypi", "--progress-spinner", "off",
         "--format", "json"],
        capture_output=True, text=True, timeout=600,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        return [], [f"every package (pip-audit did not run: {run.stderr.strip()[-300:] or run.returncode})"]
    found, unaudited = [], []
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            unaudited.append(dependency["name"])
        for vulnerability in dependency.get("vulns", []):
            fixed = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed release yet"
            found.append(f"{dependency['name']} {dependency['version']}: {vulnerability['id']} (fixed in {fixed})")
    return found, unaudited


def npm_audit() -> tuple[list[str], list[str]]:
    """(high or critical vulnerabilities found, what could not be audited) among the bundle's npm packages."""
    run = subprocess.run(["npm", "audit", "--omit=dev", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    try:
        report = json.loads(run.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    if "vulnerabilities" not in report:
        reason = report.get("message") or report.get("error", {}).get("summary") or run.stderr.strip()[-300:]
        return [], [f"every npm package (the registry's audit service answered: {reason})"]
    found = [
        f"{name}: {entry['severity']} ({entry.get('range', '')})"
        for name, entry in report["vulnerabilities"].items()
        if entry.get("severity") in {"high", "critical"}
    ]
    return found, []


def main() -> int:
    python_found, python_unaudited = python_audit()
    npm_found, npm_unaudited = npm_audit()
    found = python_found + npm_found
    for line in found:
        print(f"audit: VULNERABLE {line}")
    if python_unaudited:
        shown = ", ".join(python_unaudited[:8]) + (f" and {len(python_unaudited) - 8} more" if len(python_unaudited) > 8 else "")
        print(f"audit: {len(python_unaudited)} Python package(s) could not be audited (no answer from the advisory "
              f"service): {shown}")
    for line in npm_unaudited:
        print(f"audit: could not audit {line}")
    if found:
        print(f"audit: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'}: raise the lower bound in "
              "pyproject.toml or package.json to a fixed release.")
        return 1
    if (python_unaudited or npm_unaudited) and os.environ.get("AUDIT_STRICT") == "1":
        print("audit: AUDIT_STRICT=1 and some packages could not be audited.")
        return 1
    print("audit: no known vulnerability among the packages that could be audited.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
