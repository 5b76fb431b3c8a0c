"""DICOMweb under /dicomweb/ (PS3.18 resources)."""

from django.urls import path, re_path

from . import retrieve, search, store

UID = r"(?P<{}>[0-9.]{{1,64}})"
STUDY = "studies/" + UID.format("study_uid")
SERIES = STUDY + "/series/" + UID.format("series_uid")
INSTANCE = SERIES + "/instances/" + UID.format("sop_uid")

app_name = "dicomweb"

urlpatterns = [
    path("studies", store.StudiesView.as_view(), name="studies"),
    path("series", search.SeriesQidoView.as_view(), name="all-series"),
    path("instances", search.InstancesQidoView.as_view(), name="all-instances"),
    re_path(rf"^{STUDY}$", retrieve.StudyView.as_view(), name="study"),
    re_path(rf"^{STUDY}/metadata$", retrieve.MetadataView.as_view(), name="study-metadata"),
    re_path(rf"^{STUDY}/rendered$", retrieve.RenderedView.as_view(), name="study-rendered"),
    re_path(
        rf"^{STUDY}/thumbnail$",
        retrieve.RenderedView.as_view(thumbnail=True),
        name="study-thumbnail",
    ),
    re_path(rf"^{STUDY}/series$", search.SeriesQidoView.as_view(), name="study-series"),
    re_path(rf"^{STUDY}/instances$", search.InstancesQidoView.as_view(), name="study-instances"),
    re_path(rf"^{SERIES}$", retrieve.RetrieveView.as_view(), name="series"),
    re_path(rf"^{SERIES}/metadata$", retrieve.MetadataView.as_view(), name="series-metadata"),
    re_path(rf"^{SERIES}/rendered$", retrieve.RenderedView.as_view(), name="series-rendered"),
    re_path(
        rf"^{SERIES}/thumbnail$",
        retrieve.RenderedView.as_view(thumbnail=True),
        name="series-thumbnail",
    ),
    re_path(rf"^{SERIES}/instances$", search.InstancesQidoView.as_view(), name="series-instances"),
    re_path(rf"^{INSTANCE}$", retrieve.RetrieveView.as_view(), name="instance"),
    re_path(rf"^{INSTANCE}/metadata$", retrieve.MetadataView.as_view(), name="instance-metadata"),
    re_path(rf"^{INSTANCE}/rendered$", retrieve.RenderedView.as_view(), name="instance-rendered"),
    re_path(
        rf"^{INSTANCE}/thumbnail$",
        retrieve.RenderedView.as_view(thumbnail=True),
        name="instance-thumbnail",
    ),
    re_path(
        rf"^{INSTANCE}/frames/(?P<frames>[0-9,]+)$", retrieve.FramesView.as_view(), name="frames"
    ),
    re_path(
        rf"^{INSTANCE}/frames/(?P<frames>[0-9,]+)/rendered$",
        retrieve.RenderedView.as_view(),
        name="frames-rendered",
    ),
    re_path(
        rf"^{INSTANCE}/bulkdata/(?P<tag>[0-9A-Fa-f]{{8}})$",
        retrieve.BulkdataView.as_view(),
        name="bulkdata",
    ),
]
