"""Second readers for the XLSX exports: GDAL through pyogrio (the wheel's GDAL) and Debian's own
``ogrinfo`` (GDAL 3.6 on Debian 12, what QGIS there uses), which refused every row of a sheet
whose rows and cells carried no reference ("Invalid row: 0")."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyogrio
import pytest


def read_with_gdal(path: Path) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, read_geometry=False)


def ogrinfo(path: Path) -> tuple[int, list[str]]:
    """(features Debian's GDAL counts, its ERROR lines)."""
    if not shutil.which("ogrinfo"):
        pytest.fail("ogrinfo is missing: `make test` installs gdal-bin (apt-get install gdal-bin)")
    done = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=False,
                          timeout=60)
    output = done.stdout + done.stderr
    count = re.search(r"Feature Count: (\d+)", output)
    return (int(count[1]) if count else -1), [line for line in output.splitlines() if line.startswith("ERROR")]
