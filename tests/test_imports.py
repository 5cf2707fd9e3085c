"""Every package of derrvos_core imports on its own, first, in a fresh interpreter: an import cycle between
two of them shows only when one is imported before the other (as a script or a test may)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p.name for p in (ROOT / "derrvos_core").iterdir() if (p / "__init__.py").is_file())


def test_the_package_list_is_read():
    assert {"model", "tais", "multimodal", "trajectory"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_first(package):
    done = subprocess.run([sys.executable, "-c", f"import derrvos_core.{package}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
