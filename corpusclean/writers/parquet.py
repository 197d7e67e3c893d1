"""Atomic output: each file is written beside its final name and renamed into place.

``os.replace`` is atomic on POSIX within one file system, so a reader (or a rerun after a crash) sees
either the previous complete file or the new complete file, never a torn one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl


def write_table(table: pl.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet (zstd), atomically."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.write_parquet(temporary, compression="zstd", statistics=True)
    os.replace(temporary, path)


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    os.replace(temporary, path)
