"""The apps import in one direction (docs/ARCHITECTURE.md, "Layers"): import-linter keeps the contracts in pyproject.toml,
and breaks them when a module reaches up."""

import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PACKAGES = ("portal", "api", "accounts", "uploads", "assets", "projects", "ui", "cli")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )


def _copy_of_the_code(tmp_path: Path) -> Path:
    base = Path(settings.BASE_DIR)
    for package in PACKAGES:
        shutil.copytree(base / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(base / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_every_contract(tmp_path):
    result = _lint(_copy_of_the_code(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_assets_module_that_imports_uploads_breaks_the_layers(tmp_path):
    root = _copy_of_the_code(tmp_path)
    models = root / "assets" / "models.py"
    models.write_text(models.read_text() + "\nfrom uploads.models import UploadSession  # reaches up\n")

    result = _lint(root)

    assert result.returncode == 1
    assert "The assets app never imports the uploads app BROKEN" in result.stdout
    assert "assets.models -> uploads.models" in result.stdout


def test_the_command_line_client_may_not_import_django(tmp_path):
    root = _copy_of_the_code(tmp_path)
    client = next((root / "cli").glob("*.py"))
    client.write_text(client.read_text() + "\nimport django  # a script's client needs no Django\n")

    result = _lint(root)

    assert result.returncode == 1
    assert "The command-line client imports nothing from Django or the portal BROKEN" in result.stdout
