"""A thread-safe list of callbacks: the one way the kiosk's parts tell each other about changes.

Device status trackers, the door watcher, the locker service and the flows' view publisher all
hand events to listeners subscribed from other threads (the UI, the flows, the supervisor).
Iterating gives a snapshot, so a listener may unsubscribe itself while being called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Listeners(Generic[T]):
    def __init__(self) -> None:
        self._items: list[Callable[[T], None]] = []
        self._lock = threading.Lock()

    def add(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Subscribe; returns the function that unsubscribes (safe to call twice)."""
        with self._lock:
            self._items.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._items:
                    self._items.remove(listener)

        return remove

    def __iter__(self) -> Iterator[Callable[[T], None]]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)
