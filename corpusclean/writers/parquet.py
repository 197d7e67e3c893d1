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
import pyarrow.parquet as pq


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


class TableWriter:
    """Append frames to one Parquet file (a row group each), renamed into place on :meth:`close`.

    Phase B writes the final tables shard by shard through these, so a table of any size needs only
    one shard's rows in memory; until ``close`` the file exists only under a temporary name.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "t.parquet"
        >>> writer = TableWriter(path, {"x": pl.Int64})
        >>> writer.write(pl.DataFrame({"x": [1, 2]})); writer.write(pl.DataFrame({"x": [3]})); writer.close()
        >>> pl.read_parquet(path)["x"].to_list()
        [1, 2, 3]
    """

    def __init__(self, path: Path, schema: dict[str, pl.DataType]) -> None:
        self.path = path
        self.schema = schema
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pl.DataFrame) -> None:
        arrow = table.select(list(self.schema)).cast(self.schema).to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.temporary, arrow.schema, compression="zstd")
        self.writer.write_table(arrow)
        self.rows += table.height

    def close(self) -> None:
        if self.writer is None:  # nothing written: an empty table with the right columns
            self.write(pl.DataFrame(schema=self.schema))
        self.writer.close()
        os.replace(self.temporary, self.path)
