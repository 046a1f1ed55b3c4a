"""A bounded memo: at most ``maxsize`` entries, the least recently used dropped first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """Remember the values of the ``maxsize`` most recently used keys.

    Parameters
    ----------
    maxsize : int
        How many entries are kept; using a key makes it the most recent, and adding an
        entry beyond ``maxsize`` drops the least recently used one.
    on_evict : callable, optional
        Called with each value dropped (to release what it holds elsewhere).

    Examples
    --------
    >>> cache = BoundedCache(2)
    >>> [cache.get(k, lambda k=k: k * 10) for k in (1, 2, 1, 3)]
    [10, 20, 10, 30]
    >>> list(cache)
    [1, 3]
    """

    def __init__(self, maxsize: int, on_evict: Callable[[V], None] | None = None):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.on_evict = on_evict
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """Return the value of ``key``, computing and keeping it when it is not held."""
        try:
            value = self._items[key]
        except KeyError:
            value = compute()
            self._items[key] = value
            while len(self._items) > self.maxsize:
                _, dropped = self._items.popitem(last=False)
                if self.on_evict is not None:
                    self.on_evict(dropped)
            return value
        self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key`` (the most recent), dropping the least recently used beyond ``maxsize``."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            _, dropped = self._items.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(dropped)

    def peek(self, key: K) -> V | None:
        """Return the value of ``key`` when it is held (without making it recent), else None."""
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def clear(self) -> None:
        """Drop every entry."""
        self._items.clear()
