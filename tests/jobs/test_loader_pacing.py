"""WritePacer: additive increase, multiplicative decrease, a ceiling, and fair shares of a table."""

from __future__ import annotations

import pytest
from loader_pacing import WritePacer


class FakeTime:
    """A clock that only moves when told to, and a sleep that moves it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _pacer(time: FakeTime, **kwargs: float) -> WritePacer:
    return WritePacer(clock=time.clock, sleep=time.sleep, **kwargs)  # type: ignore[arg-type]


def test_pacer_without_ceiling_or_throttling_never_waits() -> None:
    # GIVEN a pacer with no ceiling
    time = FakeTime()
    pacer = _pacer(time)

    # WHEN many calls go through
    for _ in range(100):
        token = pacer.acquire(25)
        pacer.record(token, sent=25, written=25, throttled=False)

    # THEN none waited, and the pacer is still unpaced
    assert time.slept == [] and pacer.rate is None


def test_pacer_spaces_calls_to_its_ceiling() -> None:
    # GIVEN a ceiling of 100 items/s
    time = FakeTime()
    pacer = _pacer(time, max_rate=100)

    # WHEN four 25-item calls are made at once
    for _ in range(4):
        pacer.acquire(25)

    # THEN each waits a quarter of a second more than the one before
    assert time.slept == pytest.approx([0.25, 0.25, 0.25])


def test_pacer_drops_to_a_share_of_what_dynamodb_acknowledged_on_a_throttle() -> None:
    # GIVEN an unpaced process whose calls wrote 2,000 items/s over the last half second
    time = FakeTime()
    pacer = _pacer(time)
    for _ in range(80):
        time.now += 1 / 80
        pacer.record(pacer.acquire(25), sent=25, written=25, throttled=False)

    # WHEN a call comes back with items in UnprocessedItems
    pacer.record(pacer.acquire(25), sent=25, written=20, throttled=True)

    # THEN the rate is 0.85 of the acknowledged rate
    assert pacer.rate == pytest.approx(0.85 * 2040, rel=0.03)
    assert (pacer.decreases, pacer.throttles) == (1, 1)


def test_pacer_decreases_once_per_round_of_calls() -> None:
    # GIVEN 16 calls sent before DynamoDB started throttling
    time = FakeTime()
    pacer = _pacer(time, max_rate=4000)
    tokens = [pacer.acquire(25) for _ in range(16)]

    # WHEN all of them come back throttled
    for token in tokens:
        pacer.record(token, sent=25, written=0, throttled=True)

    # THEN the rate was decreased once, not 16 times
    assert pacer.decreases == 1 and pacer.throttles == 16
    # AND a call sent after the decrease, throttled again, decreases again
    pacer.record(pacer.acquire(25), sent=25, written=0, throttled=True)
    assert pacer.decreases == 2


def test_pacer_halves_the_rate_it_sent_at_when_nothing_gets_through() -> None:
    # GIVEN a process that sent 2,000 items/s and got none written
    time = FakeTime()
    pacer = _pacer(time, max_rate=10_000)
    for _ in range(80):
        time.now += 1 / 80
        pacer.record(-1, sent=25, written=0, throttled=False)

    # WHEN a throttled call is recorded
    pacer.record(pacer.decreases, sent=25, written=0, throttled=True)

    # THEN the rate is 0.85 of half the rate it sent at
    assert pacer.rate == pytest.approx(0.85 * 2050 / 2, rel=0.03)


def test_pacer_grows_additively_up_to_its_ceiling() -> None:
    # GIVEN a pacer decreased to about 1,000 items/s under a ceiling of 2,000
    time = FakeTime()
    pacer = _pacer(time, max_rate=2000, increase_per_second=250)
    for _ in range(10):
        time.now += 0.1
        pacer.record(-1, sent=100, written=100, throttled=False)
    pacer.record(pacer.decreases, sent=25, written=0, throttled=True)
    start = pacer.rate
    assert start is not None and start < 1100

    # WHEN calls go through for two seconds
    for _ in range(20):
        time.now += 0.1
        pacer.record(-1, sent=25, written=25, throttled=False)

    # THEN it grew by 250 items/s each second
    assert pacer.rate == pytest.approx(start + 500)
    # AND it stops at the ceiling
    time.now += 60
    pacer.record(-1, sent=25, written=25, throttled=False)
    assert pacer.rate == 2000


def test_pacer_never_drops_below_its_floor() -> None:
    time = FakeTime()
    pacer = _pacer(time, max_rate=1000, min_rate=50)
    for _ in range(20):
        pacer.record(pacer.acquire(1), sent=1, written=0, throttled=True)
    assert pacer.rate == 50


def test_pacer_refuses_a_ceiling_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="max_rate must be positive, got 0"):
        WritePacer(max_rate=0)


def _share_a_table(
    pacers: list[WritePacer], time: FakeTime, *, capacity: float, seconds: float
) -> list[float]:
    """Run processes against a table that admits ``capacity`` items/s in all: each tick, each
    process offers what its rate allows (an unpaced one offers far more than the table takes),
    the table admits offers in proportion, and whoever got less than it offered is throttled.
    Returns the items each process got written."""
    tick = 0.05
    written = [0.0] * len(pacers)
    for _ in range(int(seconds / tick)):
        time.now += tick
        offers = [(p.rate if p.rate is not None else 10 * capacity) * tick for p in pacers]
        admitted = min(1.0, capacity * tick / sum(offers))
        for index, (pacer, offer) in enumerate(zip(pacers, offers, strict=True)):
            got = offer * admitted
            written[index] += got
            pacer.record(
                pacer.decreases, sent=round(offer), written=round(got), throttled=got < offer
            )
    return written


def test_pacers_on_one_table_converge_to_equal_shares_and_keep_it_busy() -> None:
    # GIVEN a table taking 8,000 items/s, one process alone on it for 10 s, then 3 more
    time = FakeTime()
    first = _pacer(time)
    _share_a_table([first], time, capacity=8000, seconds=10)
    pacers = [first, _pacer(time), _pacer(time), _pacer(time)]

    # WHEN the four share it for a minute
    _share_a_table(pacers, time, capacity=8000, seconds=30)
    written = _share_a_table(pacers, time, capacity=8000, seconds=30)

    # THEN none is starved: each gets within a fifth of an equal share
    assert min(written) > 0.8 * max(written)
    # AND together they keep the table at least 90% busy
    assert sum(written) / (8000 * 30) >= 0.9
