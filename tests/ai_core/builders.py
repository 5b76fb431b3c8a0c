"""Test fixtures built in code: CT series with known geometry and small bundles whose networks
are exact and tiny (a threshold as a 1x1x1 convolution), so expected outputs are analytic."""

import json
import random
from pathlib import Path

import numpy as np
import pydicom
import torch
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def ct_series(
    hu: np.ndarray,
    *,
    spacing=(2.0, 1.5, 1.2),
    origin=(-30.0, -25.0, -20.0),
    row_cosine=(1.0, 0.0, 0.0),
    column_cosine=(0.0, 1.0, 0.0),
    patient_id: str = "PHANTOM-1",
    study_uid: str | None = None,
    series_description: str = "Chest CT phantom",
    body_part: str = "CHEST",
    shuffle: bool = True,
) -> list[pydicom.Dataset]:
    """Single-frame CT instances for ``hu[slice, row, column]``; InstanceNumbers run against the
    slice order and the list is shuffled, so only real geometry sorts them back."""
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    frame_of_reference_uid = generate_uid()
    row_cosine, column_cosine = np.asarray(row_cosine, float), np.asarray(column_cosine, float)
    normal = np.cross(row_cosine, column_cosine)
    datasets = []
    for k in range(hu.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.PatientID = patient_id
        ds.PatientName = "Phantom^Test"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyDate = "20261201"
        ds.StudyTime = "101500"
        ds.AccessionNumber = "ACC1"
        ds.StudyID = "1"
        ds.ReferringPhysicianName = ""
        ds.Manufacturer = "AI Mass tests"
        ds.Modality = "CT"
        ds.BodyPartExamined = body_part
        ds.SeriesDescription = series_description
        ds.SeriesNumber = 2
        ds.InstanceNumber = hu.shape[0] - k
        ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.ImageOrientationPatient = [*row_cosine.tolist(), *column_cosine.tolist()]
        position = np.asarray(origin, float) + normal * spacing[0] * k
        ds.ImagePositionPatient = [round(float(v), 4) for v in position]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.PixelData = (hu[k] + 1024).astype(np.int16).tobytes()
        datasets.append(ds)
    if shuffle:
        random.Random(7).shuffle(datasets)
    return datasets


def sphere_hu(
    shape, *, spacing, origin, row_cosine, column_cosine, centre_lps, radius_mm, inside=60.0
):
    """HU volume of air with a sphere of soft tissue, and the analytic mask of voxel centres."""
    row_cosine, column_cosine = np.asarray(row_cosine, float), np.asarray(column_cosine, float)
    normal = np.cross(row_cosine, column_cosine)
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    points = (
        np.asarray(origin, float)
        + x[..., None] * spacing[2] * row_cosine
        + y[..., None] * spacing[1] * column_cosine
        + z[..., None] * spacing[0] * normal
    )
    mask = np.linalg.norm(points - np.asarray(centre_lps, float), axis=-1) <= radius_mm
    hu = np.where(mask, inside, -1000.0).astype(np.float32)
    return hu, mask


def threshold_network(dims: int = 3) -> torch.nn.Module:
    """A plain 1x1x1 convolution giving two-channel logits: foreground where the (0..1 scaled)
    input is above 0.5. A stock torch layer, so the bundle holds no code of ours."""
    conv = (torch.nn.Conv3d if dims == 3 else torch.nn.Conv2d)(1, 2, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([-20.0, 20.0]).reshape(2, 1, *([1] * dims)))
        conv.bias.copy_(torch.tensor([10.0, -10.0]))
    return conv.eval()


def threshold_bundle(
    root: Path,
    *,
    version: str = "1.0.0",
    torchscript: bool = True,
    spacing: list[float] | None = None,
    metadata_extra: dict | None = None,
    inference_extra: dict | None = None,
    dims: int = 3,
) -> Path:
    """A segmentation bundle in MONAI's layout whose network thresholds intensity at -500 HU.
    ``spacing`` adds Orientationd + Spacingd to the preprocessing (the runner must map back)."""
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "models").mkdir(exist_ok=True)
    metadata = {
        "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20220324.json",
        "version": version,
        "changelog": {version: "test bundle"},
        "name": "Threshold segmenter",
        "description": "Marks voxels above -500 HU. Test fixture, not for clinical use.",
        "intended_use": "Tests only. Not for clinical use.",
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "hounsfield",
                    "num_channels": 1,
                    "spatial_shape": [16] * dims,
                    "dtype": "float32",
                }
            },
            "outputs": {
                "pred": {
                    "type": "image",
                    "format": "segmentation",
                    "num_channels": 2,
                    "spatial_shape": [16] * dims,
                    "dtype": "float32",
                    "channel_def": {"0": "background", "1": "lesion"},
                }
            },
        },
        **(metadata_extra or {}),
    }
    transforms = [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
    ]
    if spacing:
        transforms += [
            {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
            {"_target_": "Spacingd", "keys": "image", "pixdim": spacing, "mode": "bilinear"},
        ]
    transforms.append(
        {
            "_target_": "ScaleIntensityRanged",
            "keys": "image",
            "a_min": -1000,
            "a_max": 0,
            "b_min": 0.0,
            "b_max": 1.0,
            "clip": True,
        }
    )
    inference = {
        "imports": ["$import torch"],
        "bundle_root": ".",
        "device": "$torch.device('cpu')",
        "network_def": {
            "_target_": f"torch.nn.Conv{dims}d",
            "in_channels": 1,
            "out_channels": 2,
            "kernel_size": 1,
        },
        "network": "$@network_def.to(@device)",
        "preprocessing": {"_target_": "Compose", "transforms": transforms},
        "inferer": {
            "_target_": "SlidingWindowInferer",
            "roi_size": [16] * dims,
            "sw_batch_size": 2,
            "overlap": 0.25,
        },
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "softmax": True},
                {"_target_": "CopyItemsd", "keys": "pred", "names": "prob"},
                {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
                {"_target_": "SaveImaged", "keys": "pred", "output_dir": "/nonexistent"},
            ],
        },
        **(inference_extra or {}),
    }
    (root / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=2))
    (root / "configs" / "inference.json").write_text(json.dumps(inference, indent=2))
    if torchscript:
        torch.jit.script(threshold_network(dims)).save(str(root / "models" / "model.ts"))
    else:
        torch.save(threshold_network(dims).state_dict(), root / "models" / "model.pt")
    return root


class MemoryHungry(torch.nn.Module):
    """The threshold network on a device that runs out of memory when given more than
    ``fits`` windows at once (``fits=0``: never fits)."""

    def __init__(self, fits: int = 1):
        super().__init__()
        self.fits = fits
        self.conv = threshold_network(3)

    def forward(self, x):
        if x.shape[0] > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.conv(x)
