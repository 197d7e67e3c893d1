"""Small frames that do not keep large ones alive.

polars stores strings as views (Arrow's ``string_view``): a string longer than 12 bytes is a view
into a shared data buffer, and ``filter``, ``gather``, ``slice`` and joins copy the views only. A
frame of a few rows filtered out of a large one therefore holds the large one's text buffers until
it is dropped, and ``estimated_size`` does not count them. In the final write, the texts of the
contained links' ends (a few hundred rows a slice) kept every slice's text alive: the main process
grew 160 MiB over allsides-dev grown 3x (430 -> 680 MiB, 25k-paragraph slices), back to 460 when
the write returned.

:func:`owned_strings` copies the string columns of a frame that is kept while the frames it came
from are released, so its buffers hold its own strings only. Use it on small results that live
long (a step's output held to the end of a run, a list that grows slice by slice), not on every
frame: the copy costs time proportional to the strings copied.
"""

from __future__ import annotations

import polars as pl


def owned_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each ``String`` column copied into buffers holding only its own values.

    Values and nulls are unchanged; other columns are not copied.

    Example:
        >>> big = pl.DataFrame({"text": [f"paragraph number {i} of a long page" for i in range(10_000)]})
        >>> few = big.filter(pl.int_range(pl.len()) % 1000 == 0)
        >>> string_buffer_bytes(few) > 300_000  # the 10,000 strings of ``big``
        True
        >>> mine = owned_strings(few)
        >>> string_buffer_bytes(mine) < 1_000, mine.equals(few)
        (True, True)
    """
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not strings or frame.is_empty():
        return frame
    # concatenation writes each value into a new buffer (a cast or a rechunk would share the old one)
    return frame.with_columns(pl.concat_str(pl.col(name), pl.lit("")).alias(name) for name in strings)


def string_buffer_bytes(frame: pl.DataFrame) -> int:
    """Bytes of the data buffers that ``frame``'s string columns reference (each buffer once, however
    many columns share it), as Arrow sees them: what dropping the frame could free, which
    ``estimated_size`` does not count."""
    sizes: dict[int, int] = {}
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        array = frame[name].to_arrow(compat_level=pl.CompatLevel.newest())
        for chunk in getattr(array, "chunks", [array]):
            # a string_view array's buffers: validity, views, then the data buffers
            sizes.update((buffer.address, buffer.size) for buffer in chunk.buffers()[2:] if buffer is not None)
    return sum(sizes.values())
