"""Data pipeline: the `Sample` schema, prepared datasets, readers, validate, prepare, sft-build.

Only the light, pure parts are re-exported here; readers/prepare import pyarrow/PIL lazily.
"""

from __future__ import annotations

from ivgr.data.prepared import iter_prepared, read_manifest, read_prepared, write_prepared
from ivgr.data.schema import Box, Sample, make_sample_id

__all__ = [
    "Box",
    "Sample",
    "iter_prepared",
    "make_sample_id",
    "read_manifest",
    "read_prepared",
    "write_prepared",
]
