"""QIDO-RS (PS3.18 10.6): searching studies, series and instances."""

from django.db.models import Min

from .. import access
from ..models import Instance, Series
from . import qido
from .http import (
    DicomWebView,
    error,
)
from .lookup import NOT_FOUND, base_url, json_response

# --- QIDO-RS ------------------------------------------------------------------------------------


class QidoView(DicomWebView):
    level = "study"

    def get(self, request, study_uid=None, series_uid=None):
        try:
            query = qido.parse(request.query_params, level=self.level)
        except qido.BadQuery as exc:
            return error("validation_error", 400, str(exc))
        base = base_url(request)
        if self.level == "study":
            rows = access.studies_visible_to(request.user).filter(query.filters)
            rows = qido.paginate(rows.order_by("-study_date", "-study_time", "id"), query)
            results = [qido.study_json(s, base) for s in rows]
            reps = (
                _representatives([s.pk for s in rows], "series__study_id")
                if _needs_metadata(query, results)
                else {}
            )
            for study, result in zip(rows, results, strict=True):
                qido.include_from_metadata(result, reps.get(study.pk), query.include)
        elif self.level == "series":
            rows = access.series_visible_to(request.user).select_related("study")
            if study_uid:
                rows = rows.filter(study__study_uid=study_uid)
            rows = qido.paginate(rows.filter(query.filters).order_by("series_number", "id"), query)
            results = [qido.series_json(s, base) for s in rows]
            reps = (
                _representatives([s.pk for s in rows], "series_id")
                if _needs_metadata(query, results)
                else {}
            )
            for series, result in zip(rows, results, strict=True):
                qido.include_from_metadata(result, reps.get(series.pk), query.include)
        else:
            rows = access.instances_visible_to(request.user).select_related("series__study")
            if study_uid:
                rows = rows.filter(series__study__study_uid=study_uid)
            if series_uid:
                rows = rows.filter(series__series_uid=series_uid)
            if query.include:
                rows = rows.filter(query.filters)
            else:
                rows = rows.filter(query.filters).defer("metadata", "frames", "bulkdata")
            rows = qido.paginate(rows.order_by("instance_number", "id"), query)
            results = []
            for instance in rows:
                result = qido.instance_json(instance, base)
                if query.include:
                    qido.include_from_metadata(result, instance.metadata, query.include)
                results.append(result)
        if (
            (study_uid or series_uid)
            and not results
            and not _container_visible(request.user, study_uid, series_uid)
        ):
            return error(*NOT_FOUND)
        return json_response(results)


def _needs_metadata(query: qido.Query, results: list[dict]) -> bool:
    """Whether includefield asks for an attribute the index rows do not answer."""
    if not query.include or not results:
        return False
    return "all" in query.include or bool(query.include - results[0].keys())


def _representatives(ids: list[int], field: str) -> dict[int, str]:
    """The metadata of one instance (the first stored) per study or series, for includefield:
    one grouped query for their ids, one for their metadata."""
    first_ids = (
        Instance.objects.filter(**{f"{field}__in": ids})
        .order_by()
        .values(field)
        .annotate(first=Min("id"))
        .values_list("first", flat=True)
    )
    return dict(Instance.objects.filter(id__in=list(first_ids)).values_list(field, "metadata"))


def _container_visible(user, study_uid, series_uid) -> bool:
    studies = access.studies_visible_to(user).filter(study_uid=study_uid)
    if series_uid:
        return Series.objects.filter(study__in=studies, series_uid=series_uid).exists()
    return studies.exists()


class SeriesQidoView(QidoView):
    level = "series"


class InstancesQidoView(QidoView):
    level = "instance"
