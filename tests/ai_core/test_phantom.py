"""The synthetic chest CT phantom: valid DICOM, plausible HU, ground truth that matches, and the
same phantom for the same seed. Pure: no database, no Django."""

import json

import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from scipy import ndimage

from imaging.ai.demo import phantom as phantom_module
from imaging.ai.demo.phantom import chest_ct_phantom, write_series
from imaging.ai.volume import volume_from_datasets

# A coarse grid keeps the tests fast; the anatomy is drawn in millimetres, so it is the same
# chest at a lower resolution.
SMALL = {"shape": (40, 96, 96), "spacing": (4.0, 3.6, 3.6)}


@pytest.fixture(scope="module")
def phantom():
    return chest_ct_phantom(3, nodules=3, noise_hu=12.0, **SMALL)


@pytest.fixture(scope="module")
def written(phantom, tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    return write_series(phantom, folder)


def test_every_slice_is_a_part10_ct_image_storage_file(phantom, written):
    assert len(written) == phantom.hu.shape[0]
    for path in written:
        raw = path.read_bytes()
        assert raw[128:132] == b"DICM"
        ds = pydicom.dcmread(path)
        assert ds.file_meta.MediaStorageSOPClassUID == CTImageStorage
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == CTImageStorage
        assert (ds.Modality, ds.BodyPartExamined) == ("CT", "CHEST")
        assert ds.PatientID and ds.PatientName and ds.StudyDate and ds.SeriesDescription
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (
            16,
            12,
            11,
            0,
        )
        assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, -1024.0)
        assert ds.pixel_array.dtype == np.uint16
        assert ds.pixel_array.shape == phantom.hu.shape[1:]
        assert ds.pixel_array.max() < 4096


def test_uids_are_shared_by_the_series_and_unique_per_instance(written):
    datasets = [pydicom.dcmread(p) for p in written]
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert len({ds.FrameOfReferenceUID for ds in datasets}) == 1
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    assert sorted(int(ds.InstanceNumber) for ds in datasets) == list(range(1, len(datasets) + 1))


def test_geometry_is_one_evenly_spaced_axial_stack_matching_the_volume(phantom, written):
    datasets = [pydicom.dcmread(p) for p in written]
    for ds in datasets:
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.PixelSpacing] == list(SMALL["spacing"][1:])
        assert float(ds.SliceThickness) == SMALL["spacing"][0]
    positions = np.array(
        sorted((np.array(ds.ImagePositionPatient, float) for ds in datasets), key=lambda p: p[2])
    )
    assert np.allclose(positions[:, :2], positions[0, :2])
    assert np.allclose(np.diff(positions[:, 2]), SMALL["spacing"][0])

    volume = volume_from_datasets(datasets)
    assert volume.spacing == SMALL["spacing"]
    assert np.allclose(volume.origin, phantom.origin_lps)
    assert np.array_equal(volume.pixels, phantom.hu)  # hu is exactly what the files encode


def test_hu_of_air_lung_fat_soft_tissue_and_bone_are_plausible(phantom):
    hu = phantom.hu
    assert np.median(hu[:, :4, :4]) < -950  # air in the corners of the field of view
    parenchyma = phantom.lungs & (phantom.mask == 0) & (hu < -600)
    assert -900 < np.median(hu[parenchyma]) < -780
    assert phantom.lungs.sum() > 0.05 * hu.size
    body = hu > -500
    assert 0.03 < np.mean((hu[body] > -150) & (hu[body] < -50)) < 0.5  # fat
    assert np.mean((hu[body] > 0) & (hu[body] < 90)) > 0.3  # soft tissue
    assert np.mean(hu[body] > 300) > 0.005  # bone
    assert 500 < hu.max() < 1200


def test_nodule_density_matches_its_kind(phantom):
    for nodule in phantom.nodules:
        voxels = phantom.hu[ndimage.binary_erosion(phantom.instances == nodule.label)]
        if voxels.size < 3:
            continue  # too small to have a core free of partial volume
        if nodule.density == "solid":
            assert -150 < np.median(voxels) < 100
        elif nodule.density == "ground-glass":
            assert -800 < np.median(voxels) < -350


def test_the_mask_marks_each_nodule_where_the_list_says(phantom):
    assert phantom.mask.dtype == np.uint8 and phantom.mask.shape == phantom.hu.shape
    assert np.array_equal(phantom.mask, (phantom.instances > 0).astype(np.uint8))
    assert sorted(np.unique(phantom.instances[phantom.instances > 0])) == [
        n.label for n in phantom.nodules
    ]
    spacing = np.array(SMALL["spacing"])
    for nodule in phantom.nodules:
        voxels = np.argwhere(phantom.instances == nodule.label)
        assert len(voxels) == nodule.voxel_count > 0
        offset = (voxels.mean(axis=0) - np.array(nodule.center_index)) * spacing
        assert np.linalg.norm(offset) <= nodule.diameter_mm / 2
        assert phantom.lungs[tuple(voxels.T)].all()
        assert np.allclose(phantom.index_to_lps(nodule.center_index), nodule.center_lps)
        assert 4.0 <= nodule.diameter_mm <= 30.0


def test_same_seed_gives_the_same_phantom_and_another_seed_another():
    first = chest_ct_phantom(11, **SMALL)
    again = chest_ct_phantom(11, **SMALL)
    other = chest_ct_phantom(12, **SMALL)
    assert np.array_equal(first.hu, again.hu)
    assert np.array_equal(first.mask, again.mask)
    assert first.nodules == again.nodules
    assert [ds.SOPInstanceUID for ds in first.datasets] == [
        ds.SOPInstanceUID for ds in again.datasets
    ]
    assert not np.array_equal(first.hu, other.hu)
    assert first.study_instance_uid != other.study_instance_uid


def test_the_anatomy_of_a_seed_does_not_depend_on_its_nodules():
    bare = chest_ct_phantom(5, nodules=0, **SMALL)
    with_nodules = chest_ct_phantom(5, nodules=2, **SMALL)
    assert bare.nodules == [] and bare.mask.sum() == 0
    assert len(with_nodules.nodules) == 2
    # Nodules touch the voxels around their mask (partial volume, then the scanner's blur).
    away = ~ndimage.binary_dilation(with_nodules.mask > 0, iterations=4)
    assert np.array_equal(bare.hu[away], with_nodules.hu[away])


def test_the_caller_names_patient_and_study(tmp_path):
    made = chest_ct_phantom(
        2, nodules=0, patient_id="P-0042", patient_name="张^三", study_uid="1.2.3.4.5", **SMALL
    )
    copy = chest_ct_phantom(2, nodules=0, study_uid="1.2.3.4.6", **SMALL)
    [path, *_] = write_series(made, tmp_path)
    ds = pydicom.dcmread(path)
    assert (ds.PatientID, str(ds.PatientName), ds.StudyInstanceUID) == (
        "P-0042",
        "张^三",
        "1.2.3.4.5",
    )
    # Another study UID gives another series and other instances, for the same pixels.
    assert copy.series_instance_uid != made.series_instance_uid
    assert np.array_equal(copy.hu, made.hu)


def test_the_cli_writes_studies_with_their_ground_truth(tmp_path, capsys):
    grid = ["--shape", *map(str, SMALL["shape"]), "--spacing", *map(str, SMALL["spacing"])]
    phantom_module.main(["--out", str(tmp_path), "--studies", "2", "--seed", "7", *grid])
    folders = sorted(tmp_path.glob("study_*"))
    assert [f.name for f in folders] == ["study_00007", "study_00008"]
    for folder in folders:
        files = sorted(folder.glob("*.dcm"))
        assert len(files) == SMALL["shape"][0]
        truth = json.loads((folder / "ground_truth.json").read_text())
        assert truth["series_instance_uid"] == pydicom.dcmread(files[0]).SeriesInstanceUID
    assert "study_00007" in capsys.readouterr().out
