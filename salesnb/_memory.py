"""Giving freed memory back to the system after large steps (loading millions of rows)."""

from __future__ import annotations

import ctypes

__all__ = ["release_memory"]


def release_memory() -> None:
    """Hand the buffers freed by a large step back to the system.

    Arrow's allocator and the C library keep freed memory for reuse; after a large
    load most of it is not needed again, and keeping it inflates the process's
    footprint by a third. Costs a few milliseconds.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:  # glibc keeps freed heap pages too (numpy arrays); other C libraries: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass
