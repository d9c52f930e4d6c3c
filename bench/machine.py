"""How fast this machine is right now, printed next to every load figure.

A shared VM's speed varies: here by a third within an hour and by 1.7x within a
day, with the same code and data. The reading is the best of 10 runs of
``sum(range(10**6))`` in milliseconds (lower is faster), so that a run's
latencies can be read against the speed of the minute it ran in.
"""

import timeit


def machine_speed_ms() -> float:
    return 1000 * min(timeit.repeat("sum(range(10**6))", number=1, repeat=10))
