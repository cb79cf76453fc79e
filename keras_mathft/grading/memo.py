"""A least-recently-used memo bounded by entry count and by total size."""

import collections
import functools
import os
import threading


class BoundedMemo:
    """Memoizes a one-argument function of a string.

    Unlike `functools.lru_cache`, the memo also bounds the total size of
    what it keeps (the summed lengths of the keys, a proxy for the size of
    each result), never keeps an entry longer than `max_key_chars`, and
    passes unhashable arguments through uncached.

    Args:
        function: the function to memoize; takes one hashable argument.
        max_entries: int. Most entries kept.
        max_chars: int. Most key characters kept, summed.
        max_key_chars: int. Longer keys are never kept.

    Example:

    >>> double = BoundedMemo(lambda s: s * 2, 10, 100, 10)
    >>> double("ab"), double("ab"), len(double)
    ('abab', 'abab', 1)
    """

    def __init__(self, function, max_entries, max_chars, max_key_chars):
        functools.update_wrapper(self, function)
        self._function = function
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._max_key_chars = max_key_chars
        self._entries = collections.OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            # A thread of the parent may hold the lock at the fork.
            os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self):
        self._lock = threading.Lock()

    @staticmethod
    def _size(key):
        return len(key) if isinstance(key, str) else 1

    def __call__(self, key):
        try:
            size = self._size(key)
            with self._lock:
                value = self._entries[key]
                self._entries.move_to_end(key)
                return value
        except KeyError:
            pass
        except TypeError:  # unhashable
            return self._function(key)
        value = self._function(key)
        if size <= self._max_key_chars:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = value
                    self._chars += size
                while self._entries and (
                    len(self._entries) > self._max_entries
                    or self._chars > self._max_chars
                ):
                    old, _ = self._entries.popitem(last=False)
                    self._chars -= self._size(old)
        return value

    def __len__(self):
        return len(self._entries)

    def cache_clear(self):
        with self._lock:
            self._entries.clear()
            self._chars = 0


def bounded_memo(max_entries, max_chars, max_key_chars):
    """Decorator form of `BoundedMemo`."""

    def decorate(function):
        return BoundedMemo(function, max_entries, max_chars, max_key_chars)

    return decorate
