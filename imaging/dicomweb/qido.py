"""QIDO-RS (PS3.18 10.6): query parameters → ORM filters, and index rows → DICOM JSON."""

import datetime as dt
import json
import re
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from ..models import Instance, Series, Study


class BadQuery(ValueError):
    pass


@dataclass(frozen=True)
class Attr:
    tag: str
    keyword: str
    vr: str
    field: str  # ORM path from the level's model, filled per level below
    kind: str  # uid | string | pn | date | time | int | modalities


_STUDY = [
    Attr("0020000D", "StudyInstanceUID", "UI", "study_uid", "uid"),
    Attr("00100010", "PatientName", "PN", "patient_name", "pn"),
    Attr("00100020", "PatientID", "LO", "dicom_patient_id", "string"),
    Attr("00100030", "PatientBirthDate", "DA", "patient_birth_date", "date"),
    Attr("00100040", "PatientSex", "CS", "patient_sex", "string"),
    Attr("00080020", "StudyDate", "DA", "study_date", "date"),
    Attr("00080030", "StudyTime", "TM", "study_time", "time"),
    Attr("00080050", "AccessionNumber", "SH", "accession_number", "string"),
    Attr("00080061", "ModalitiesInStudy", "CS", "modalities", "modalities"),
    Attr("00080090", "ReferringPhysicianName", "PN", "referring_physician_name", "pn"),
    Attr("00081030", "StudyDescription", "LO", "study_description", "string"),
    Attr("00200010", "StudyID", "SH", "study_id", "string"),
]
_SERIES = [
    Attr("0020000E", "SeriesInstanceUID", "UI", "series_uid", "uid"),
    Attr("00080060", "Modality", "CS", "modality", "string"),
    Attr("00200011", "SeriesNumber", "IS", "series_number", "int"),
    Attr("0008103E", "SeriesDescription", "LO", "series_description", "string"),
    Attr("00180015", "BodyPartExamined", "CS", "body_part_examined", "string"),
]
_INSTANCE = [
    Attr("00080018", "SOPInstanceUID", "UI", "sop_uid", "uid"),
    Attr("00080016", "SOPClassUID", "UI", "sop_class_uid", "uid"),
    Attr("00200013", "InstanceNumber", "IS", "instance_number", "int"),
    Attr("00280008", "NumberOfFrames", "IS", "number_of_frames", "int"),
    Attr("00280010", "Rows", "US", "rows", "int"),
    Attr("00280011", "Columns", "US", "columns", "int"),
]
_BY_NAME = {a.tag: a for a in _STUDY + _SERIES + _INSTANCE}
_BY_NAME.update({a.keyword.lower(): a for a in _STUDY + _SERIES + _INSTANCE})
_PREFIX = {  # ORM path to each level's attributes from a level's model
    "study": {"study": "", "series": None, "instance": None},
    "series": {"study": "study__", "series": "", "instance": None},
    "instance": {"study": "series__study__", "series": "series__", "instance": ""},
}
_LEVEL_OF = {
    a.tag: lvl
    for lvl, attrs in (("study", _STUDY), ("series", _SERIES), ("instance", _INSTANCE))
    for a in attrs
}
_CONTROL = {"limit", "offset", "includefield", "fuzzymatching"}


@dataclass
class Query:
    filters: Q
    limit: int | None
    offset: int
    include: set[str]  # tags, or {"all"}
    fuzzy: bool


def parse(params, *, level: str) -> Query:
    """Turn QIDO query parameters into a Query for ``level``; raises BadQuery."""
    if any("\x00" in key or any("\x00" in v for v in params.getlist(key)) for key in params):
        raise BadQuery("Query parameters must not contain NUL characters")
    fuzzy = params.get("fuzzymatching", "false").lower() == "true"
    condition = Q()
    include: set[str] = set()
    for value in params.getlist("includefield"):
        for item in re.split(r"[,\s]+", value):
            if item.lower() == "all":
                include.add("all")
            elif item:
                include.add(_tag_of(item))
    for key in params:
        if key.lower() in _CONTROL or key in ("_",):
            continue
        attr = _BY_NAME.get(key.upper() if re.fullmatch(r"[0-9A-Fa-f]{8}", key) else key.lower())
        if attr is None:
            raise BadQuery(f"Unsupported query attribute: {key}")
        prefix = _PREFIX[level][_LEVEL_OF[attr.tag]]
        if prefix is None:
            raise BadQuery(f"{attr.keyword} cannot be matched at the {level} level")
        for value in params.getlist(key):
            condition &= _match(attr, prefix + attr.field, value, fuzzy)
    return Query(
        condition,
        _int(params.get("limit"), "limit"),
        _int(params.get("offset"), "offset") or 0,
        include,
        fuzzy,
    )


def _tag_of(item: str) -> str:
    if re.fullmatch(r"[0-9A-Fa-f]{8}", item):
        return item.upper()
    attr = _BY_NAME.get(item.lower())
    if attr:
        return attr.tag
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(item)
    if tag is None:
        raise BadQuery(f"Unknown includefield attribute: {item}")
    return f"{tag:08X}"


def _int(value, name):
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise BadQuery(f"{name} must be a whole number") from exc
    if number < 0:
        raise BadQuery(f"{name} must not be negative")
    # Beyond any real store; a larger value would overflow the database's LIMIT / OFFSET.
    return min(number, 2**31 - 1)


def _wildcard_regex(value: str) -> str:
    return (
        "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value) + "$"
    )


def _match(attr: Attr, path: str, value: str, fuzzy: bool) -> Q:
    if value == "":
        return Q()  # universal match: the attribute is only asked to be returned
    if attr.kind == "uid":
        uids = [u for u in re.split(r"[,\\]", value) if u]
        return Q(**{f"{path}__in": uids})
    if attr.kind == "date":
        return _range(path, value, _date)
    if attr.kind == "time":
        return _range(path, value, _time)
    if attr.kind == "int":
        try:
            return Q(**{path: int(value)})
        except ValueError as exc:
            raise BadQuery(f"{attr.keyword} must be a number") from exc
    if attr.kind == "modalities":
        modalities = [m for m in re.split(r"[,\\]", value) if m]
        condition = Q()
        for modality in modalities:
            condition |= Q(**{f"{path}__regex": rf"(^|\\){re.escape(modality)}(\\|$)"})
        return condition
    if attr.kind == "pn":
        if fuzzy:
            # Any name component starting with the value, case-insensitive ("wang" → Wang^Wei).
            stem = re.escape(value.strip("*"))
            return Q(**{f"{path}__iregex": rf"(^|[\^= ]){stem}"})
        if "*" in value or "?" in value:
            return Q(**{f"{path}__iregex": _wildcard_regex(value)})
        return Q(**{f"{path}__iexact": value})
    if "*" in value or "?" in value:
        if value.endswith("*") and not any(c in value[:-1] for c in "*?"):
            return Q(**{f"{path}__startswith": value[:-1]})
        return Q(**{f"{path}__regex": _wildcard_regex(value)})
    return Q(**{path: value})


def _date(text: str) -> dt.date:
    text = text.replace(".", "")  # ACR-NEMA style YYYY.MM.DD
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError as exc:
        raise BadQuery(f"Not a DICOM date: {text!r} (YYYYMMDD)") from exc


def _time(text: str) -> dt.time:
    text = text.replace(":", "")
    digits, _, fraction = text.partition(".")
    try:
        hour, minute, second = int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
        micro = int((fraction + "000000")[:6]) if fraction else 0
        return dt.time(hour, minute, second, micro)
    except ValueError as exc:
        raise BadQuery(f"Not a DICOM time: {text!r} (HHMMSS)") from exc


def _range(path: str, value: str, convert) -> Q:
    if "-" not in value:
        return Q(**{path: convert(value)})
    low, _, high = value.partition("-")
    if "-" in high:
        raise BadQuery(f"Not a range: {value!r}")
    condition = Q()
    if low:
        condition &= Q(**{f"{path}__gte": convert(low)})
    if high:
        condition &= Q(**{f"{path}__lte": convert(high)})
    return condition


# --- Results ----------------------------------------------------------------------------------


def _element(vr: str, value) -> dict:
    if value in (None, ""):
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": value}]}
    if isinstance(value, list):
        return {"vr": vr, "Value": value}
    if vr == "DA":
        value = value.strftime("%Y%m%d")
    elif vr == "TM":
        value = value.strftime("%H%M%S") + (
            f".{value.microsecond:06d}" if value.microsecond else ""
        )
    return {"vr": vr, "Value": [value]}


def study_json(study: Study, base: str) -> dict:
    return {
        "00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
        "00080020": _element("DA", study.study_date),
        "00080030": _element("TM", study.study_time),
        "00080050": _element("SH", study.accession_number),
        "00080056": {"vr": "CS", "Value": ["ONLINE"]},
        "00080061": _element("CS", [m for m in study.modalities.split("\\") if m]),
        "00080090": _element("PN", study.referring_physician_name),
        "00081030": _element("LO", study.study_description),
        "00081190": _element("UR", f"{base}/studies/{study.study_uid}"),
        "00100010": _element("PN", study.patient_name),
        "00100020": _element("LO", study.dicom_patient_id),
        "00100030": _element("DA", study.patient_birth_date),
        "00100040": _element("CS", study.patient_sex),
        "0020000D": _element("UI", study.study_uid),
        "00200010": _element("SH", study.study_id),
        "00201206": _element("IS", study.number_of_series),
        "00201208": _element("IS", study.number_of_instances),
    }


def series_json(series: Series, base: str) -> dict:
    study_uid = series.study.study_uid
    return {
        "00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
        "00080060": _element("CS", series.modality),
        "0008103E": _element("LO", series.series_description),
        "00081190": _element("UR", f"{base}/studies/{study_uid}/series/{series.series_uid}"),
        "00180015": _element("CS", series.body_part_examined),
        "0020000D": _element("UI", study_uid),
        "0020000E": _element("UI", series.series_uid),
        "00200011": _element("IS", series.series_number),
        "00201209": _element("IS", series.number_of_instances),
    }


def instance_json(instance: Instance, base: str) -> dict:
    series = instance.series
    study_uid = series.study.study_uid
    url = f"{base}/studies/{study_uid}/series/{series.series_uid}/instances/{instance.sop_uid}"
    return {
        "00080016": _element("UI", instance.sop_class_uid),
        "00080018": _element("UI", instance.sop_uid),
        "00081190": _element("UR", url),
        "00083002": _element("UI", instance.transfer_syntax_uid),
        "0020000D": _element("UI", study_uid),
        "0020000E": _element("UI", series.series_uid),
        "00200013": _element("IS", instance.instance_number),
        "00280008": _element("IS", instance.number_of_frames),
        "00280010": _element("US", instance.rows),
        "00280011": _element("US", instance.columns),
    }


def include_from_metadata(result: dict, metadata_text: str | None, include: set[str]) -> None:
    """Add requested attributes the index does not hold, from a representative instance."""
    if not include or not metadata_text:
        return
    metadata = json.loads(metadata_text)
    wanted = metadata.keys() if "all" in include else include
    for tag in wanted:
        if tag in result or tag not in metadata:
            continue
        element = metadata[tag]
        if "BulkDataURI" in element or "InlineBinary" in element:
            continue
        result[tag] = element


def paginate(queryset: QuerySet, query: Query) -> QuerySet:
    if query.limit is not None:
        return queryset[query.offset : query.offset + query.limit]
    return queryset[query.offset :]
