"""Most working days a contract allows in a run of days, for redundant window cuts.

The LP relaxation of the sequence rules is weak: fractional work spreads evenly and ignores
minimum rest. Bounds such as "at most 5 working days in any 7" (max 5 in a row, rests of at
least 2) and "at least N working days in days a..b, since outside them at most M fit" are
implied by the hard rules but tighten the LP a lot (see bench/README.md).
"""

from __future__ import annotations

from functools import cache


@cache
def max_work_days(length: int, longest: int, shortest: int, rest: int) -> int:
    """Most working days in ``length`` consecutive days with runs of work at most ``longest``,
    and runs of work (``shortest``) and rest (``rest``) of minimum length unless they touch
    either end of the stretch (they may continue outside it)."""
    if length <= 0:
        return 0
    best = -1
    # state: (working?, run length so far, run touches the start?) -> most work days so far
    states = {(True, 1, True): 1, (False, 1, True): 0}
    for _ in range(length - 1):
        following: dict[tuple[bool, int, bool], int] = {}
        for (working, run, at_start), done in states.items():
            for work in (True, False):
                if work == working:
                    if work and run + 1 > longest:
                        continue
                    key = (work, min(run + 1, length), at_start)
                else:
                    minimum = shortest if working else rest
                    if not at_start and run < minimum:
                        continue
                    key = (work, 1, False)
                value = done + work
                if following.get(key, -1) < value:
                    following[key] = value
        states = following
    for (working, run, _), done in states.items():
        if not working or run <= longest:
            best = max(best, done)
    return best
