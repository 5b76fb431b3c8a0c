"""The doctor's AI worklist page and the JSON its script polls. The rows come from
imaging.review.worklist; who may see a study is decided in imaging.access."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from clinic.audit import Actor, audit_record
from clinic.forms import DateInput
from clinic.models import AuditAction, Role

from .. import access
from ..models import Study
from .worklist import (
    AIStatus,
    Scope,
    worklist_annotate,
    worklist_modalities,
    worklist_row,
    worklist_rows,
    worklist_studies,
)

READER_ROLES = (Role.ADMIN, Role.DOCTOR)
PAGE_SIZE = 50
# The live update asks for one page of rows; more ids than that is not the page asking.
STATUS_MAX_IDS = PAGE_SIZE


class WorklistFilterForm(forms.Form):
    scope = forms.ChoiceField(
        label=gettext_lazy("Scope"), required=False, choices=Scope.choices, initial=Scope.MINE
    )
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    ai = forms.ChoiceField(
        label=gettext_lazy("AI status"), required=False, choices=[("", "—"), *AIStatus.choices]
    )
    review = forms.ChoiceField(
        label=gettext_lazy("Review"),
        required=False,
        choices=[("", "—"), *Study._meta.get_field("review_status").choices],
    )
    modality = forms.ChoiceField(label=gettext_lazy("Modality"), required=False)
    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=DateInput())

    def __init__(self, *args, modalities: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _("Patient name, MRN or accession number")
        self.fields["modality"].choices = [("", "—"), *((m, m) for m in modalities)]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict:
        """The valid fields as ``worklist_studies`` arguments: a field with an error is shown
        with its message and does not filter."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "scope": data.get("scope") or Scope.MINE,
            "query": data.get("q", ""),
            "ai_status": data.get("ai", ""),
            "review_status": data.get("review", ""),
            "modality": data.get("modality", ""),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }


def _require_reader(request) -> None:
    if request.user.role not in READER_ROLES:
        raise PermissionDenied


@login_required
@require_GET
def worklist(request):
    _require_reader(request)
    form = WorklistFilterForm(
        request.GET or None, modalities=worklist_modalities(user=request.user)
    )
    if form.is_bound:
        form.is_valid()  # shows the errors; the fields that are valid still filter
    filters = form.filters()
    page = Paginator(worklist_studies(user=request.user, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = worklist_rows(page.object_list)
    audit_record(
        actor=Actor.from_request(request),
        action=AuditAction.SEARCH,
        details={
            "scope": "worklist",
            "query": filters["query"],
            "filters": {k: str(v) for k, v in filters.items() if k != "query" and v},
            "results": page.paginator.count,
        },
    )
    return render(
        request,
        "imaging/review/worklist.html",
        {"form": form, "page": page, "rows": rows},
    )


def _ids_from(value: str) -> list[int] | None:
    """``"1,2,3"`` as ids; None when it is not a short list of ids."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    # Digits only, and few of them: a number past 64 bits would overflow the database's.
    if len(parts) > STATUS_MAX_IDS or not all(
        p.isascii() and p.isdigit() and len(p) <= 18 for p in parts
    ):
        return None
    return [int(p) for p in parts]


@login_required
@require_GET
def worklist_status(request):
    """The live columns of the rows on the page (``?ids=1,2,3``): each id is checked against
    what the user may see, and one not visible is left out. Writes no audit row: it shows no
    more than the page it refreshes, which the page's own audit row recorded."""
    _require_reader(request)
    ids = _ids_from(request.GET.get("ids", ""))
    if ids is None:
        return JsonResponse(
            {
                "error": _("ids must be a comma-separated list of at most %(n)d study ids.")
                % {"n": STATUS_MAX_IDS}
            },
            status=400,
        )
    studies = worklist_annotate(access.studies_visible_to(request.user).filter(pk__in=ids))
    return JsonResponse({"rows": [worklist_row(s) for s in studies.order_by("pk")]})
