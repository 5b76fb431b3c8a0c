"""Comparing two versions of a roster: the cells that differ and each version's penalty."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from .. import rosters
from ..models import RosterPeriod
from .rosters import _manager


@login_required
def roster_compare(request, pk):
    """Two versions of a roster side by side: the cells that differ, per person, and each
    version's penalty. ``?a=`` and ``?b=`` pick the versions (by default the previous one and
    this one)."""
    _manager(request)
    period = get_object_or_404(RosterPeriod.objects.select_related("department"), pk=pk)
    versions = list(rosters.roster_versions(period))
    by_pk = {str(version.pk): version for version in versions}
    earlier = [v for v in versions if v.created_at < period.created_at]
    default_a = (
        period.based_on_id
        if str(period.based_on_id) in by_pk
        else (earlier[-1].pk if earlier else period.pk)
    )
    a = by_pk.get(request.GET.get("a") or str(default_a))
    b = by_pk.get(request.GET.get("b") or str(period.pk))
    if a is None or b is None:
        raise Http404
    return render(
        request,
        "appointments/rosters/compare.html",
        {
            "period": period,
            "versions": versions,
            "comparison": rosters.roster_compare(a, b),
        },
    )
