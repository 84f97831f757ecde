"""Persistent (immutable, structure-sharing) collections for the group state.

A :class:`~vault.crypto.group_state.GroupState` is immutable and callers keep old ones (the
relay caches one per group, a device keeps the one it verified), so applying an entry must
not change a state, yet must not copy a 10,000-member group either. These collections do
both: a change makes a new collection that shares everything it did not touch with the old
one, in O(log n) (a hash array mapped trie: ``immutables.Map``, the C structure behind
:mod:`contextvars`).

:class:`OrderedMap` is a read-only :class:`~collections.abc.Mapping` that iterates in
insertion order, exactly as a ``dict`` does (a key set again keeps its place; a deleted
key set again goes last), so whatever a caller lists from a state comes out in the order
it always did. :class:`Entries` is a read-only, append-only sequence. Each has a
``mutate()`` that gives a mutable draft (``OrderedMapDraft``, ``EntriesDraft``) for
applying many changes cheaply; ``finish()`` turns a draft back into the immutable form
(O(1)) and leaves the collection it was made from untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

from immutables import Map, MapMutation

__all__ = ["Entries", "EntriesDraft", "OrderedMap", "OrderedMapDraft"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

_GAP: Any = object()


class _Lookups(Generic[K, V]):
    """The reads an ordered map and its draft share: both keep ``key -> (position, value)``
    in ``_items``."""

    __slots__ = ()
    _items: Map[K, tuple[int, V]] | MapMutation[K, tuple[int, V]]

    def __getitem__(self, key: K) -> V:
        return self._items[key][1]

    @overload
    def get(self, key: K, /) -> V | None: ...

    @overload
    def get(self, key: K, default: V | T, /) -> V | T: ...

    def get(self, key: K, default: object = None) -> object:
        found = self._items.get(key)
        return default if found is None else found[1]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


class OrderedMap(_Lookups[K, V], Mapping[K, V]):
    """An immutable mapping in insertion order whose changes share structure.

    ``_items`` maps a key to ``(position, value)``; ``_keys`` maps each position in use to
    its key; ``_next`` is the next free position. Iteration walks the positions in order
    (deleted keys leave gaps, skipped), so it costs O(keys ever inserted); every other
    operation is O(log n). Equality is a dict's: same keys and values, whatever the order.
    """

    __slots__ = ("_items", "_keys", "_next")
    _items: Map[K, tuple[int, V]]

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        draft: OrderedMapDraft[K, V] = OrderedMapDraft(Map(), Map(), 0)
        for key, value in (items or {}).items():
            draft[key] = value
        self._items, self._keys, self._next = draft.parts()

    @classmethod
    def _of(cls, items: Map[K, tuple[int, V]], keys: Map[int, K], nxt: int) -> OrderedMap[K, V]:
        made: OrderedMap[K, V] = cls.__new__(cls)
        made._items, made._keys, made._next = items, keys, nxt
        return made

    def __iter__(self) -> Iterator[K]:
        keys = self._keys
        if len(keys) == self._next:  # no gaps: every position holds a key
            return (keys[position] for position in range(self._next))
        return (key for p in range(self._next) if (key := keys.get(p, _GAP)) is not _GAP)

    def key_at(self, position: int) -> K:
        """The key inserted at *position* (0 = first ever; KeyError if it was deleted). In a
        map that never had a key deleted, positions 0 to ``len - 1`` are its keys in order."""
        return self._keys[position]

    def position(self, key: K) -> int:
        """Where *key* sits in the iteration order (KeyError if absent): keys iterate by
        increasing position, so sorting some keys by it lists them as iterating would."""
        return self._items[key][0]

    def mutate(self) -> OrderedMapDraft[K, V]:
        """A mutable draft starting from this map (which never changes)."""
        return OrderedMapDraft(self._items, self._keys, self._next)

    def __repr__(self) -> str:
        return f"OrderedMap({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (OrderedMap, (dict(self.items()),))


class OrderedMapDraft(_Lookups[K, V]):
    """The mutable counterpart of :class:`OrderedMap` (dict-like: get, ``in``, ``[]``,
    ``[]=``, ``del``, ``len``); :meth:`finish` returns the immutable map."""

    __slots__ = ("_items", "_keys", "_next")

    def __init__(self, items: Map[K, tuple[int, V]], keys: Map[int, K], nxt: int) -> None:
        self._items: MapMutation[K, tuple[int, V]] = items.mutate()
        self._keys: MapMutation[int, K] = keys.mutate()
        self._next = nxt

    def __setitem__(self, key: K, value: V) -> None:
        found = self._items.get(key)
        if found is not None:
            self._items[key] = (found[0], value)
            return
        self._items[key] = (self._next, value)
        self._keys[self._next] = key
        self._next += 1

    def __delitem__(self, key: K) -> None:
        position = self._items.pop(key)[0]
        del self._keys[position]

    def parts(self) -> tuple[Map[K, tuple[int, V]], Map[int, K], int]:
        return self._items.finish(), self._keys.finish(), self._next

    def finish(self) -> OrderedMap[K, V]:
        """The immutable map (O(1)). The draft must not be used afterwards."""
        return OrderedMap._of(*self.parts())


class Entries(Sequence[T]):
    """An immutable, append-only sequence whose appends share structure (O(log n) each).

    Indexing and ``len`` behave as a tuple's; a slice is a tuple. Equal to any other
    sequence (tuple, list) with equal items in the same order; unhashable, like a list.
    """

    __slots__ = ("_items",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, items: Sequence[T] = ()) -> None:
        draft: EntriesDraft[T] = EntriesDraft(Map())
        for item in items:
            draft.append(item)
        self._items: Map[int, T] = draft.finish()._items

    @classmethod
    def _of(cls, items: Map[int, T]) -> Entries[T]:
        made: Entries[T] = cls.__new__(cls)
        made._items = items
        return made

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice):
            return tuple(self._items[i] for i in range(*index.indices(len(self._items))))
        position = index + len(self._items) if index < 0 else index
        if not 0 <= position < len(self._items):
            raise IndexError("index out of range")
        return self._items[position]

    def __iter__(self) -> Iterator[T]:
        items = self._items
        return (items[i] for i in range(len(items)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Entries):
            return self._items == other._items
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other,
                                                                            strict=True))
        return NotImplemented

    def mutate(self) -> EntriesDraft[T]:
        """A mutable draft starting from this sequence (which never changes)."""
        return EntriesDraft(self._items)

    def __repr__(self) -> str:
        return f"Entries({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Entries, (tuple(self),))


class EntriesDraft(Generic[T]):
    """The mutable counterpart of :class:`Entries`: ``append``, indexing, ``len``."""

    __slots__ = ("_items",)

    def __init__(self, items: Map[int, T]) -> None:
        self._items: MapMutation[int, T] = items.mutate()

    def append(self, item: T) -> None:
        self._items[len(self._items)] = item

    def __getitem__(self, index: int) -> T:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def finish(self) -> Entries[T]:
        """The immutable sequence (O(1)). The draft must not be used afterwards."""
        return Entries._of(self._items.finish())
