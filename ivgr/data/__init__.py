"""Data pipeline: the `Sample` schema, prepared datasets, readers, validate, prepare, sft-build.

Attributes load lazily (PEP 562): `ivgr.data.images` (shared by inference and evaluation)
imports without pydantic, which the schema needs; readers/prepare import pyarrow/PIL lazily.
"""

from __future__ import annotations

from ivgr._lazy import lazy_module_getattr

_EXPORTS = {
    "Box": "ivgr.data.schema",
    "Sample": "ivgr.data.schema",
    "make_sample_id": "ivgr.data.schema",
    "iter_prepared": "ivgr.data.prepared",
    "read_manifest": "ivgr.data.prepared",
    "read_prepared": "ivgr.data.prepared",
    "write_prepared": "ivgr.data.prepared",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
