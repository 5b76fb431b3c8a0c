"""De-identification of DICOM instances: the PS3.15 Annex E Basic Application Level
Confidentiality Profile, with the options "Retain Longitudinal Temporal Information with Modified
Dates" and "Retain Device Identity".

pydicom ships no Annex E table, so the actions below are written out for the attributes that
occur in the CT/MR/CR/DX/SEG/SR objects this service stores (Table E.1-1's Basic Profile column):
``X`` remove, ``Z`` empty, ``D`` a dummy value, ``U`` a new UID. Beyond the table, as a safety
net: every private element, overlay (60xx) and curve (50xx) group is removed, every person name
left is emptied, free text (LT/ST/UT) is removed, and every date and date-time is shifted (with
the longitudinal option) or removed (without it) — wherever it sits, sequences included.

One ``Deidentifier`` is one export: it holds the UID map (so references between objects, and
UIDs the caller writes elsewhere, stay consistent) and a per-export secret that new UIDs and the
per-patient date offsets are derived from, so neither can be reversed or linked across exports.
Instances that may carry burned-in text in their pixels are refused (``BurnedInAnnotation``);
cleaning pixel data is not offered.
"""

import copy
import datetime as dt
import hashlib
import hmac
import io
import secrets

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

UID_ROOT = PYDICOM_ROOT_UID
# A shift of 1 to 10 years back: far enough that a date does not point at a visit; whole days, the
# same for all of a patient's instances, so intervals between their studies stay as they were.
SHIFT_DAYS_MIN, SHIFT_DAYS_MAX = 365, 3650


def _keywords(text: str) -> list[str]:
    return text.split()


# Table E.1-1, Basic Profile column, by action. Patient: identity, demographics, history.
_PATIENT_REMOVE = _keywords("""
    IssuerOfPatientID IssuerOfPatientIDQualifiersSequence TypeOfPatientID OtherPatientIDs
    OtherPatientIDsSequence OtherPatientNames PatientBirthTime PatientBirthName
    PatientMotherBirthName PatientAge PatientSize PatientWeight PatientAddress
    PatientTelephoneNumbers PatientTelecomInformation PatientInsurancePlanCodeSequence
    PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence
    PatientReligiousPreference PatientComments PatientState PatientSexNeutered
    PatientTransportArrangements PatientInstitutionResidence
    PatientClinicalTrialParticipationSequence MilitaryRank BranchOfService MedicalRecordLocator
    MedicalAlerts Allergies CountryOfResidence RegionOfResidence EthnicGroup Occupation
    SmokingStatus AdditionalPatientHistory PregnancyStatus LastMenstrualDate SpecialNeeds
    ResponsiblePerson ResponsiblePersonRole ResponsibleOrganization ReferencedPatientSequence
    ReferencedPatientPhotoSequence ReferencedPatientAliasSequence PersonAddress
    PersonTelephoneNumbers PersonTelecomInformation
""")
# Staff, organisations and places.
_STAFF_REMOVE = _keywords("""
    ReferringPhysicianAddress ReferringPhysicianTelephoneNumbers
    ReferringPhysicianIdentificationSequence ConsultingPhysicianName
    ConsultingPhysicianIdentificationSequence PhysiciansOfRecord
    PhysiciansOfRecordIdentificationSequence PerformingPhysicianName
    PerformingPhysicianIdentificationSequence NameOfPhysiciansReadingStudy
    PhysiciansReadingStudyIdentificationSequence OperatorsName OperatorIdentificationSequence
    RequestingPhysician ScheduledPerformingPhysicianName
    ScheduledPerformingPhysicianIdentificationSequence NamesOfIntendedRecipientsOfResults
    IntendedRecipientsOfResultsIdentificationSequence ReviewerName EvaluatorName
    HumanPerformerName HumanPerformerOrganization VerifyingOrganization AuthorObserverSequence
    ParticipantSequence CustodialOrganizationSequence ContentCreatorIdentificationCodeSequence
    OrderEnteredBy OrderEntererLocation OrderCallbackPhoneNumber OrderCallbackTelecomInformation
    InstitutionName InstitutionAddress InstitutionalDepartmentName
    InstitutionalDepartmentTypeCodeSequence InstitutionCodeSequence PerformedStationAETitle
    PerformedStationName PerformedStationNameCodeSequence
    PerformedStationGeographicLocationCodeSequence PerformedLocation ScheduledStationAETitle
    ScheduledStationName ScheduledStationNameCodeSequence
    ScheduledStationGeographicLocationCodeSequence ScheduledProcedureStepLocation
    CurrentPatientLocation TimezoneOffsetFromUTC
""")
# The visit, the order and free text about them.
_STUDY_REMOVE = _keywords("""
    IssuerOfAccessionNumberSequence StudyDescription SeriesDescription ProtocolName
    StudyComments ImageComments FrameComments AcquisitionComments DerivationDescription
    AcquisitionDeviceProcessingDescription AdmissionID IssuerOfAdmissionIDSequence
    AdmittingDiagnosesDescription AdmittingDiagnosesCodeSequence ServiceEpisodeID
    ServiceEpisodeDescription IssuerOfServiceEpisodeIDSequence VisitComments ReasonForStudy
    ReasonForTheRequestedProcedure RequestedProcedureDescription RequestedProcedureID
    RequestedProcedureComments RequestedProcedureLocation RequestedContrastAgent
    RequestAttributesSequence RequestingService RequestingServiceCodeSequence
    ImagingServiceRequestComments PlacerOrderNumberImagingServiceRequest
    FillerOrderNumberImagingServiceRequest PerformedProcedureStepID
    PerformedProcedureStepDescription CommentsOnThePerformedProcedureStep
    ScheduledProcedureStepID ScheduledProcedureStepDescription ReferencedStudySequence
    ReferencedPerformedProcedureStepSequence InterpretationText ResultsComments ContentSequence
    AcquisitionContextSequence TextValue TextString TextComments StorageMediaFileSetID
""")
_EMPTY = _keywords("""
    PatientBirthDate PatientSex ReferringPhysicianName VerifyingObserverIdentificationCodeSequence
    ContentCreatorName AccessionNumber StudyID
""")
_DUMMY_VALUE = _keywords("PersonName PersonIdentificationCodeSequence VerifyingObserverName")
_NEW_UID = _keywords("""
    StudyInstanceUID SeriesInstanceUID SOPInstanceUID MediaStorageSOPInstanceUID
    ReferencedSOPInstanceUID ReferencedSOPInstanceUIDInFile FrameOfReferenceUID
    ReferencedFrameOfReferenceUID RelatedFrameOfReferenceUID SynchronizationFrameOfReferenceUID
    SourceFrameOfReferenceUID DimensionOrganizationUID ConcatenationUID InstanceCreatorUID
    IrradiationEventUID CreatorVersionUID ContextGroupExtensionCreatorUID
    TemplateExtensionCreatorUID TemplateExtensionOrganizationUID FailedSOPInstanceUIDList
    FiducialUID DoseReferenceUID LargePaletteColorLookupTableUID PaletteColorLookupTableUID
    TransactionUID TargetUID UID ObservationUID TrackingUID SpecimenUID
    PresentationDisplayCollectionUID PresentationSequenceCollectionUID TreatmentSessionUID
    ReferencedGeneralPurposeScheduledProcedureStepTransactionUID StorageMediaFileSetUID DeviceUID
""")
# Removed, or kept as they are with "Retain Device Identity" (DeviceUID too, else a new UID).
_DEVICE = _keywords("""
    StationName DeviceSerialNumber DeviceID DeviceDescription DeviceLabel DetectorID GantryID
    GeneratorID PlateID CassetteID SourceSerialNumber UniqueDeviceIdentifier UDISequence
    SoftwareVersions
""")
_DEVICE_KEEP = [*_DEVICE, "DeviceUID"]

# Dates that identify the patient, not the visit: never kept, not even shifted.
_PATIENT_DATES = {"PatientBirthDate", "PatientBirthTime", "LastMenstrualDate"}
# Without the longitudinal option, these dates of the study are emptied or replaced (Type 1 or 2
# in the IODs); every other date and time is removed.
_DATES_WITHOUT_SHIFT = {"StudyDate": "Z", "StudyTime": "Z", "ContentDate": "D", "ContentTime": "D"}

BURNED_IN_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture (screenshots, scanned paper)
    "1.2.840.10008.5.1.4.1.1.7.1",
    "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3",
    "1.2.840.10008.5.1.4.1.1.7.4",
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound: patient banners are usually in the pixels
    "1.2.840.10008.5.1.4.1.1.3.1",
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF: the document is the pixels
}

_DUMMY = {
    "PN": "ANONYMIZED",
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "IS": "0",
    "DS": "0",
    "AS": "000Y",
}


def _by_tag(table: dict[str, str]) -> dict[int, str]:
    out = {}
    for keyword, action in table.items():
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise LookupError(f"{keyword} is not a DICOM keyword pydicom knows")
        out[tag] = action
    return out


_ACTIONS = _by_tag(
    {
        **dict.fromkeys(_PATIENT_REMOVE + _STAFF_REMOVE + _STUDY_REMOVE + _DEVICE, "X"),
        **dict.fromkeys(_EMPTY, "Z"),
        **dict.fromkeys(_DUMMY_VALUE, "D"),
        **dict.fromkeys(_NEW_UID, "U"),
    }
)
_DEVICE_KEEP_TAGS = set(_by_tag(dict.fromkeys(_DEVICE_KEEP, "K")))
_PATIENT_DATE_TAGS = set(_by_tag(dict.fromkeys(_PATIENT_DATES, "X")))
_DATES_WITHOUT_SHIFT_TAGS = _by_tag(_DATES_WITHOUT_SHIFT)
_PSEUDONYM_TAGS = {tag_for_keyword("PatientName"), tag_for_keyword("PatientID")}


class BurnedInAnnotation(Exception):
    """The instance's pixels may show identifying text; it must not leave de-identified."""


def burned_in_annotation(ds: Dataset) -> bool:
    """True when ``ds`` says its pixels carry burned-in text, or does not say and is of a SOP
    class that usually does."""
    said = str(getattr(ds, "BurnedInAnnotation", "") or "").strip().upper()
    if said in ("YES", "NO"):
        return said == "YES"
    return str(getattr(ds, "SOPClassUID", "")) in BURNED_IN_SOP_CLASSES


def _code(code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


class Deidentifier:
    """One export's de-identification: the same original UID always maps to the same new UID,
    the same patient key always gets the same date offset; a second Deidentifier maps
    differently (its own random secret unless ``secret`` is given)."""

    def __init__(
        self,
        *,
        retain_longitudinal_modified_dates: bool = True,
        retain_device_identity: bool = False,
        secret: bytes | None = None,
    ):
        self.retain_longitudinal_modified_dates = retain_longitudinal_modified_dates
        self.retain_device_identity = retain_device_identity
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._salt = hashlib.sha256(b"uid:" + self._secret).hexdigest()
        self._uids: dict[str, str] = {}
        self._offsets: dict[str, int] = {}

    # -- the maps -------------------------------------------------------------------------------

    def uid(self, original: str) -> str:
        """The new UID for ``original``, the same for the whole export."""
        original = str(original).strip().rstrip("\x00")
        if original not in self._uids:
            self._uids[original] = str(
                generate_uid(prefix=UID_ROOT, entropy_srcs=[self._salt, original])
            )
        return self._uids[original]

    def date_offset_days(self, patient_key: str) -> int:
        """Days every date of this patient moves by (negative: into the past)."""
        if patient_key not in self._offsets:
            digest = hmac.new(self._secret, f"date:{patient_key}".encode(), "sha256").digest()
            span = SHIFT_DAYS_MAX - SHIFT_DAYS_MIN + 1
            self._offsets[patient_key] = -(SHIFT_DAYS_MIN + int.from_bytes(digest[:8]) % span)
        return self._offsets[patient_key]

    @property
    def method(self) -> list[str]:
        names = ["PS3.15 Annex E Basic Application Confidentiality Profile"]
        if self.retain_longitudinal_modified_dates:
            names.append("Retain Longitudinal Temporal Information Modified Dates")
        if self.retain_device_identity:
            names.append("Retain Device Identity")
        return names

    # -- one instance ---------------------------------------------------------------------------

    def deidentify(self, ds: Dataset, *, pseudonym: str, patient_key: str | None = None):
        """A de-identified copy of ``ds``: PatientName and PatientID become ``pseudonym``; dates
        move by the offset of ``patient_key`` (default: the original PatientID). Raises
        BurnedInAnnotation for an instance whose pixels may show identifying text."""
        if burned_in_annotation(ds):
            raise BurnedInAnnotation(str(getattr(ds, "SOPClassUID", "")))
        key = patient_key if patient_key is not None else str(getattr(ds, "PatientID", ""))
        offset = self.date_offset_days(key)
        out = copy.deepcopy(ds)
        self._clean(out, offset, pseudonym)
        meta = getattr(out, "file_meta", None)
        if meta is not None:
            if "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = self.uid(meta.MediaStorageSOPInstanceUID)
            for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle"):
                if keyword in meta:
                    delattr(meta, keyword)
        self._mark(out, pseudonym)
        return out

    def _mark(self, ds: Dataset, pseudonym: str) -> None:
        ds.PatientName = pseudonym
        ds.PatientID = pseudonym
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = self.method
        methods = [codes.DCM.BasicApplicationConfidentialityProfile]  # 113100
        if self.retain_longitudinal_modified_dates:
            methods.append(codes.DCM.RetainLongitudinalTemporalInformationModifiedDatesOption)
        if self.retain_device_identity:
            methods.append(codes.DCM.RetainDeviceIdentityOption)  # 113109
        ds.DeidentificationMethodCodeSequence = [_code(code) for code in methods]
        ds.LongitudinalTemporalInformationModified = (
            "MODIFIED" if self.retain_longitudinal_modified_dates else "REMOVED"
        )

    def _clean(self, ds: Dataset, offset: int, pseudonym: str) -> None:
        for tag in list(ds.keys()):
            tag = BaseTag(tag)
            if tag.is_private or (tag.group & 0xFF00) in (0x5000, 0x6000):
                del ds[tag]
                continue
            element = ds[tag]
            if tag in _PSEUDONYM_TAGS:  # wherever they are, nested identity items included
                element.value = pseudonym
                continue
            vr = element.VR
            if vr in ("UN", None) or " or " in str(vr):
                try:
                    vr = dictionary_VR(tag)
                except KeyError:
                    vr = "UN"
            action = self._action(tag, vr)
            if action == "X":
                del ds[tag]
            elif action == "Z":
                element.value = Sequence() if vr == "SQ" else None
            elif action == "D":
                element.value = Sequence() if vr == "SQ" else _DUMMY.get(vr, "ANONYMIZED")
            elif action == "U":
                element.value = self._uids_of(element.value)
            elif action == "SHIFT":
                element.value = _shifted(element.value, vr, offset)
            if action != "X" and vr == "SQ" and tag in ds:
                for item in ds[tag].value or []:
                    self._clean(item, offset, pseudonym)

    def _action(self, tag: int, vr: str) -> str:
        """The action for one element: the table's, changed by the options, then the safety net
        by value representation."""
        if self.retain_device_identity and tag in _DEVICE_KEEP_TAGS:
            return "K"
        if tag in _PATIENT_DATE_TAGS:
            return _ACTIONS[tag]
        if vr in ("DA", "DT", "TM"):
            if self.retain_longitudinal_modified_dates:
                return "K" if vr == "TM" else "SHIFT"
            return _DATES_WITHOUT_SHIFT_TAGS.get(tag, "X")
        if tag in _ACTIONS:
            return _ACTIONS[tag]
        if vr == "PN":
            return "Z"
        if vr in ("LT", "ST", "UT"):
            return "X"
        return "K"

    def _uids_of(self, value):
        if value is None or value == "":
            return value
        if isinstance(value, str):
            return self.uid(value)
        return [self.uid(v) for v in value]


def _shifted(value, vr: str, days: int):
    """A DA or DT value (one or several) moved by ``days``; a value that is not a full date is
    emptied rather than kept."""
    if value is None or value == "":
        return value
    values = [value] if isinstance(value, str | bytes) or not hasattr(value, "__iter__") else value
    out = [_shift_one(str(v), vr, days) for v in values]
    return out[0] if len(out) == 1 else out


def _shift_one(text: str, vr: str, days: int) -> str:
    text = text.strip()
    try:
        day = dt.date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return ""
    shifted = (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    return shifted if vr == "DA" else shifted + text[8:]


def dataset_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM file (Part 10), for writing de-identified instances out."""
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
