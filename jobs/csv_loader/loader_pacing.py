"""Pacing of one loader process's writes: additive increase, multiplicative decrease (AIMD).

DynamoDB tells a writer it is going too fast by throttling a call or by handing items
back in UnprocessedItems. Retrying with backoff alone (what the writer lanes do for each
batch) keeps every lane pushing at full speed in between, so several loader processes on
one table keep throttling each other, and a process that started late gets what the
others leave. ``WritePacer`` is shared by a process's lanes and holds them to one rate,
in items per second, that follows the table:

- **Unpaced until told otherwise.** With no ``max_rate`` and no throttling, ``acquire``
  returns at once (nothing to slow down, no cost on the fast path).
- **Multiplicative decrease.** On a throttled call (a throttling error, or any item back
  in UnprocessedItems) the rate drops to ``decrease_factor`` (0.85) of what DynamoDB
  acknowledged over the last half second (the share of the table this process is getting),
  or of half the rate it sent at when the table took less than that (a process that
  gets nothing through halves its rate, round after round, until something does). At
  most once per round of calls: a throttled call sent before the last decrease does not
  decrease again (each ``acquire`` returns the decrease count it saw, ``record`` compares).
- **Additive increase.** While calls go through, the rate grows by ``increase_per_second``
  items/s every second, the same step for every process, which is what makes processes on
  one table converge to equal shares (a late or slow one is not starved: AIMD's fairness),
  and probes for capacity the table gains (on-demand tables double their capacity as load
  persists).
- **A ceiling.** ``max_rate`` (this process's share of the pipeline's ``max_write_rate``)
  caps the rate from the first call; the rate never falls below ``min_rate``.

Calls are spaced by a virtual schedule (GCRA): each ``acquire`` of ``n`` items reserves
``n / rate`` seconds after the previous reservation and sleeps until its own starts, so
16 lanes together keep the rate without a token bucket's bursts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

__all__ = [
    "DEFAULT_DECREASE_FACTOR",
    "DEFAULT_INCREASE_PER_SECOND",
    "DEFAULT_MIN_RATE",
    "WritePacer",
]

#: Share of the acknowledged rate kept on a throttle.
DEFAULT_DECREASE_FACTOR: Final = 0.85
#: Items/s added every second while calls go through (the same in every process).
DEFAULT_INCREASE_PER_SECOND: Final = 250.0
#: The lowest rate: one 25-item call a second.
DEFAULT_MIN_RATE: Final = 25.0
#: Seconds of acknowledged writes that measure the rate DynamoDB is giving this process
#: (long enough to hold several calls at a small share, short enough to follow the table).
_WINDOW_SECONDS: Final = 0.5
#: The shortest window a decrease is measured over (right after start).
_MIN_WINDOW_SECONDS: Final = 0.1


class WritePacer:
    """One rate (items/s) for all of a loader process's BatchWriteItem calls (see the module).

    Thread-safe.

    Args:
        max_rate: ceiling in items/s. Default: None (no ceiling: unpaced until throttled).
        decrease_factor: share of the acknowledged rate kept on a throttle. Default: 0.85.
        increase_per_second: items/s added per second while calls go through. Default: 250.
        min_rate: floor in items/s. Default: 25.
        clock: monotonic clock. Default: ``time.monotonic``.
        sleep: sleeps until a call's turn. Default: ``time.sleep``.
    """

    def __init__(
        self,
        *,
        max_rate: float | None = None,
        decrease_factor: float = DEFAULT_DECREASE_FACTOR,
        increase_per_second: float = DEFAULT_INCREASE_PER_SECOND,
        min_rate: float = DEFAULT_MIN_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_rate is not None and not max_rate > 0:
            raise ValueError(f"max_rate must be positive, got {max_rate}")
        if not 0 < decrease_factor < 1:
            raise ValueError(f"decrease_factor must be between 0 and 1, got {decrease_factor}")
        self._max_rate = max_rate
        self._decrease_factor = decrease_factor
        self._increase = increase_per_second
        self._min_rate = min(min_rate, max_rate) if max_rate is not None else min_rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate: float | None = max_rate
        self._next = clock()
        self._updated = self._next
        self._decreases = 0
        # (time, items sent, items acknowledged) of the calls of the last second, and sums.
        self._window: deque[tuple[float, int, int]] = deque()
        self._sent = 0
        self._written = 0
        self._started = self._next
        self.throttles = 0
        """Throttled calls recorded (each a throttling error or a call with UnprocessedItems)."""

    @property
    def rate(self) -> float | None:
        """The current rate in items/s; None while unpaced."""
        return self._rate

    @property
    def decreases(self) -> int:
        """How often the rate was decreased."""
        return self._decreases

    def acquire(self, items: int) -> int:
        """Wait for the turn of a call of ``items`` items; returns a token for ``record``."""
        with self._lock:
            rate = self._rate
            token = self._decreases
            if rate is None:
                return token
            now = self._clock()
            start = max(now, self._next)
            self._next = start + items / rate
        if start > now:
            self._sleep(start - now)
        return token

    def record(self, token: int, *, sent: int, written: int, throttled: bool) -> None:
        """Report a call's outcome.

        Args:
            token: what ``acquire`` returned for the call.
            sent: items the call carried.
            written: items DynamoDB acknowledged.
            throttled: the call was throttled (an error, or items in UnprocessedItems).
        """
        with self._lock:
            now = self._clock()
            self._count(now, sent, written)
            rate = self._rate
            if throttled:
                self.throttles += 1
                if token == self._decreases:
                    self._decrease(now, rate)
            elif rate is not None:
                grown = rate + self._increase * (now - self._updated)
                self._rate = grown if self._max_rate is None else min(grown, self._max_rate)
            self._updated = now

    def _count(self, now: float, sent: int, written: int) -> None:
        window = self._window
        window.append((now, sent, written))
        self._sent += sent
        self._written += written
        horizon = now - _WINDOW_SECONDS
        while window[0][0] < horizon:
            _, old_sent, old_written = window.popleft()
            self._sent -= old_sent
            self._written -= old_written

    def _decrease(self, now: float, rate: float | None) -> None:
        span = max(min(now - self._started, _WINDOW_SECONDS), _MIN_WINDOW_SECONDS)
        base = max(self._written, self._sent / 2) / span
        if rate is not None:
            base = min(base, rate)
        self._rate = max(self._min_rate, base * self._decrease_factor)
        self._decreases += 1
        # Calls already scheduled keep their turns; later ones follow the new rate.
        self._next = max(self._next, now)
