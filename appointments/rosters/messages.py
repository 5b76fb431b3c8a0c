"""The optimiser core speaks in employee ids and day indexes, in English; people read names,
dates and their own language. This turns the core's rule violations and infeasibility reasons
into sentences for the page (unknown forms keep their text, with names and dates put in)."""

import re
from datetime import date, timedelta

from django.utils.translation import gettext as _

_EMP = r"(?P<emp>\w+)"
_N = r"(?P<n>\d+)"
_DAY = r"(?P<day>\d+)"
_SHIFT = r"(?P<shift>[\w-]+)"


def _patterns():
    # (regex, message); the message's %(...)s names are filled from the match (names and
    # dates already substituted). Built per call so each uses the active language.
    return [
        (
            rf"^{_EMP}: works {_SHIFT} on day {_DAY}, a day off$",
            _("%(emp)s works %(shift)s on %(day)s, a day off"),
        ),
        (
            rf"^{_EMP}: (?P<next>[\w-]+) on day {_DAY} may not follow {_SHIFT}$",
            _("%(emp)s: %(next)s on %(day)s may not follow %(shift)s"),
        ),
        (
            rf"^{_EMP}: {_N} {_SHIFT} shifts, at most (?P<limit>\d+) allowed$",
            _("%(emp)s has %(n)s %(shift)s shifts, at most %(limit)s allowed"),
        ),
        (
            rf"^{_EMP}: works {_N} min, more than (?P<limit>\d+)$",
            _("%(emp)s works %(n)s minutes, more than %(limit)s"),
        ),
        (
            rf"^{_EMP}: works {_N} min, less than (?P<limit>\d+)$",
            _("%(emp)s works %(n)s minutes, less than %(limit)s"),
        ),
        (
            rf"^{_EMP}: {_N} working days in a row from day {_DAY}, at most (?P<limit>\d+)$",
            _("%(emp)s works %(n)s days in a row from %(day)s, at most %(limit)s"),
        ),
        (
            rf"^{_EMP}: only {_N} working days in a row from day {_DAY}, at least (?P<limit>\d+)$",
            _("%(emp)s works only %(n)s days in a row from %(day)s, at least %(limit)s"),
        ),
        (
            rf"^{_EMP}: only {_N} days off in a row from day {_DAY}, at least (?P<limit>\d+)$",
            _("%(emp)s has only %(n)s days off in a row from %(day)s, at least %(limit)s"),
        ),
        (
            rf"^{_EMP}: works {_N} weekends, at most (?P<limit>\d+)$",
            _("%(emp)s works %(n)s weekends, at most %(limit)s"),
        ),
        (
            rf"^{_EMP} must be off on day\(s\) (?P<days>[\d, ]+)$",
            _("%(emp)s must be off on %(days)s"),
        ),
        (
            rf"^{_EMP} may work at most {_N} {_SHIFT} shift\(s\)$",
            _("%(emp)s may work at most %(n)s %(shift)s shifts"),
        ),
        (rf"^{_EMP} may work at most {_N} minutes$", _("%(emp)s may work at most %(n)s minutes")),
        (
            rf"^{_EMP} must work at least {_N} minutes$",
            _("%(emp)s must work at least %(n)s minutes"),
        ),
        (
            rf"^{_EMP} needs the rest required between shifts$",
            _("%(emp)s needs the rest required between shifts"),
        ),
        (
            rf"^{_EMP} may work at most {_N} days in a row$",
            _("%(emp)s may work at most %(n)s days in a row"),
        ),
        (
            rf"^{_EMP} must work at least {_N} days in a row$",
            _("%(emp)s must work at least %(n)s days in a row"),
        ),
        (
            rf"^{_EMP} needs at least {_N} days off in a row$",
            _("%(emp)s needs at least %(n)s days off in a row"),
        ),
        (rf"^{_EMP} may work at most {_N} weekends$", _("%(emp)s may work at most %(n)s weekends")),
    ]


def describe(text: str, *, names: dict[str, str], first_day: date) -> str:
    """``text`` from the core as a sentence with people's names and calendar dates."""

    def day(index: str) -> str:
        return (first_day + timedelta(days=int(index))).strftime("%m-%d")

    for pattern, message in _patterns():
        match = re.match(pattern, text)
        if match is None:
            continue
        values = dict(match.groupdict())
        values["emp"] = names.get(values["emp"], values["emp"])
        if "day" in values:
            values["day"] = day(values["day"])
        if "days" in values:
            values["days"] = ", ".join(day(d) for d in values["days"].split(",") if d.strip())
        return message % values
    head, sep, rest = text.partition(":")
    return f"{names.get(head, head)}{sep}{rest}" if sep else text


_AT_CELLS = (
    # (regex, offset of the first cell from the day named, cells: a number or None for the
    # match's n) for the core's violations that sit on cells
    (rf"^{_EMP}: works {_SHIFT} on day {_DAY}, a day off$", 0, 1),
    (rf"^{_EMP}: [\w-]+ on day {_DAY} may not follow {_SHIFT}$", -1, 2),
    (rf"^{_EMP}: (only )?{_N} (working )?days( off)? in a row from day {_DAY},", 0, None),
)


def violation_cells(text: str) -> tuple[str | None, tuple[int, ...]]:
    """The employee id and the day indexes a violation from the core points at: a day off
    worked, a forbidden succession, a run too long or too short. Rules over the whole period
    (totals, weekends) name the employee and no day."""
    for pattern, offset, cells in _AT_CELLS:
        match = re.match(pattern, text)
        if match is not None:
            first = int(match["day"]) + offset
            count = int(match["n"]) if cells is None else cells
            return match["emp"], tuple(range(max(first, 0), first + count))
    head, sep, _rest = text.partition(":")
    return (head if sep and " " not in head else None), ()


def describe_all(texts, period) -> list[str]:
    """``describe`` for a roster version's messages, naming its department's staff."""
    from ..models import RosterStaff

    names = {
        str(member.user_id): member.user.display_name
        for member in RosterStaff.objects.filter(department=period.department).select_related(
            "user"
        )
    }
    return [describe(text, names=names, first_day=period.start) for text in texts]
