"""Synthetic chest CT series with known lung nodules, as valid DICOM.

The demo nodule model is trained and evaluated on these phantoms, and the test suite, the seed
data and the benchmarks use them as studies, so no patient data is ever needed. A phantom is a
whole axial CT series (one single-frame CT Image Storage instance per slice, Part 10 when saved)
of a chest with body wall, bones, mediastinum, lungs and vessel trees (``anatomy``, ``vessels``)
and 0-4 nodules of varied size, density, shape and attachment (``nodules``), plus the
ground truth: a nodule mask on the same voxel grid and the list of nodules.

Everything is drawn from ``seed`` alone (no clock, no global random state), so a seed always
gives the same pixels and UIDs; pass ``study_uid`` to get a distinct copy of the same anatomy.

CLI: ``python -m imaging.ai.demo.phantom --out DIR --studies N --seed S`` writes N studies.
"""

import argparse
import copy
import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

from .anatomy import BLOOD, Grid, chest_draw, habitus_sample
from .nodules import Nodule, nodules_draw
from .vessels import hilar_arteries, vessel_fraction, vessel_tree

DEFAULT_SHAPE = (80, 160, 160)  # slices, rows, columns
DEFAULT_SPACING = (2.5, 2.2, 2.2)  # mm between slices, rows, columns
RESCALE_INTERCEPT = -1024
MAX_STORED = 4095  # 12 bits stored
# Nodule counts when the caller does not fix one: most scans have some, a few have none.
NODULE_COUNTS, NODULE_COUNT_P = (0, 1, 2, 3, 4), (0.1, 0.3, 0.3, 0.2, 0.1)
Z_CENTRE_MM = -150.0  # table position of the grid centre, only for plausible coordinates


@dataclass
class Phantom:
    """A synthetic CT series and its ground truth, all on one voxel grid [slice, row, col]."""

    datasets: list[pydicom.Dataset]  # one per slice, in InstanceNumber order (head first)
    hu: np.ndarray  # float32, exactly the HU the DICOM pixels encode; slice 0 is the lowest
    mask: np.ndarray  # uint8, 1 where a nodule is (label 1 = "nodule", as the model's)
    instances: np.ndarray  # uint8, Nodule.label of each nodule's voxels
    nodules: list[Nodule]
    lungs: np.ndarray  # bool, the lung fields (parenchyma and the vessels and nodules in them)
    spacing: tuple[float, float, float]  # mm between slices, rows, columns
    origin_lps: np.ndarray  # LPS mm of voxel [0, 0, 0]
    seed: int

    @property
    def study_instance_uid(self) -> str:  # (phantoms made with dicom=False have no UIDs)
        return str(self.datasets[0].StudyInstanceUID)

    @property
    def series_instance_uid(self) -> str:
        return str(self.datasets[0].SeriesInstanceUID)

    def index_to_lps(self, index_zyx) -> np.ndarray:
        z, y, x = (float(v) for v in index_zyx)
        dz, dy, dx = self.spacing
        return self.origin_lps + np.array([x * dx, y * dy, z * dz])


def chest_ct_phantom(
    seed: int,
    *,
    nodules: int | None = None,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_SPACING,
    noise_hu: float | None = None,
    patient_id: str | None = None,
    patient_name: str | None = None,
    study_uid: str | None = None,
    study_date: dt.date | None = None,
    series_description: str = "Synthetic chest CT phantom",
    dicom: bool = True,
) -> Phantom:
    """Draw the phantom of ``seed``. ``nodules`` fixes how many nodules to place (a crowded lung
    may take fewer); ``noise_hu`` the noise standard deviation (default: 10-25 HU by seed).
    ``dicom=False`` leaves ``datasets`` empty, for training, which needs the pixels only."""
    grid = Grid(tuple(int(n) for n in shape), tuple(float(d) for d in spacing))
    # Independent streams, so the anatomy of a seed is the same whatever the nodule count.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    anatomy_rng, nodule_rng, noise_rng, meta_rng = streams
    hu, lungs, segments = _chest_scene(grid, anatomy_rng)
    origin = _grid_origin(grid)
    dz, dy, dx = grid.spacing

    def lps_of(index_zyx):
        return origin + np.array([index_zyx[2] * dx, index_zyx[1] * dy, index_zyx[0] * dz])

    count = int(nodule_rng.choice(NODULE_COUNTS, p=NODULE_COUNT_P))
    count = count if nodules is None else int(nodules)
    instances, placed = nodules_draw(hu, grid, lungs, segments, count, nodule_rng, lps_of)

    stored = _scanner_pixels(hu, noise_rng, noise_hu)
    patient_id = patient_id or f"PHANTOM-{seed:05d}"
    datasets = (
        []
        if not dicom
        else _series_datasets(
            stored,
            grid,
            origin,
            seed=seed,
            rng=meta_rng,
            patient_id=patient_id,
            patient_name=patient_name or f"Phantom^Chest{seed}",
            study_uid=study_uid
            or generate_uid(entropy_srcs=["aimass-chest-phantom", str(seed), patient_id]),
            study_date=study_date or dt.date(2024, 1, 1) + dt.timedelta(days=seed % 365),
            series_description=series_description,
        )
    )
    return Phantom(
        datasets=datasets,
        hu=(stored.astype(np.float32) + RESCALE_INTERCEPT),
        mask=(instances > 0).astype(np.uint8),
        instances=instances,
        nodules=placed,
        lungs=lungs,
        spacing=grid.spacing,
        origin_lps=origin,
        seed=seed,
    )


def _chest_scene(grid: Grid, rng) -> tuple[np.ndarray, np.ndarray, list]:
    """The chest without nodules or noise: HU, lung mask and the lungs' vessel segments."""
    habitus = habitus_sample(rng, grid)
    hu, lungs, cavity = chest_draw(grid, habitus, rng)
    segments = vessel_tree(grid, habitus, lungs, rng)
    fraction = vessel_fraction(grid, segments)
    hu[lungs] += fraction[lungs] * (BLOOD - hu[lungs])
    hilar = vessel_fraction(grid, hilar_arteries(habitus)) * (cavity & ~lungs)
    hu += hilar * (BLOOD - hu)
    return hu, lungs, segments


def _grid_origin(grid: Grid) -> np.ndarray:
    """LPS position of voxel [0, 0, 0]: the grid centred on x = y = 0, at Z_CENTRE_MM."""
    return np.array(
        [
            -(grid.shape[2] - 1) / 2.0 * grid.spacing[2],
            -(grid.shape[1] - 1) / 2.0 * grid.spacing[1],
            Z_CENTRE_MM - (grid.shape[0] - 1) / 2.0 * grid.spacing[0],
        ]
    )


def _scanner_pixels(hu: np.ndarray, rng, noise_hu: float | None) -> np.ndarray:
    """What the scanner stores: the scene blurred by the system's point spread, plus correlated
    quantum noise, rounded and clipped to 12-bit unsigned values (HU + 1024)."""
    sigma = float(rng.uniform(10.0, 25.0)) if noise_hu is None else float(noise_hu)
    blurred = ndimage.gaussian_filter(hu, sigma=(0.45, 0.5, 0.5))
    noise = ndimage.gaussian_filter(rng.standard_normal(hu.shape).astype(np.float32), 0.6)
    noise *= sigma / max(float(noise.std()), 1e-6)
    return np.clip(np.rint(blurred + noise) - RESCALE_INTERCEPT, 0, MAX_STORED).astype(np.uint16)


def _series_common(
    grid: Grid,
    *,
    seed,
    rng,
    patient_id,
    patient_name,
    study_uid,
    study_date,
    series_description,
) -> pydicom.Dataset:
    """The attributes every slice of the series shares."""
    common = pydicom.Dataset()
    common.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: callers may pass non-ASCII names
    common.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    common.SOPClassUID = CTImageStorage
    date = study_date.strftime("%Y%m%d")
    for prefix in ("Study", "Series", "Acquisition", "Content"):
        setattr(common, f"{prefix}Date", date)
        setattr(common, f"{prefix}Time", "093000")
    common.AccessionNumber = f"PH{seed:06d}"
    common.Modality = "CT"
    common.Manufacturer = "AI Mass synthetic phantom"
    common.ManufacturerModelName = "chest_ct_phantom"
    common.ReferringPhysicianName = ""
    common.StudyDescription = "CT CHEST (synthetic)"
    common.SeriesDescription = series_description
    common.ImageComments = "Synthetic phantom, not a patient. Not for clinical use."
    common.PatientName = patient_name
    common.PatientID = patient_id
    common.PatientBirthDate = f"{study_date.year - int(rng.integers(35, 80))}0101"
    common.PatientSex = str(rng.choice(["F", "M"]))
    common.BodyPartExamined = "CHEST"
    common.SliceThickness = f"{grid.spacing[0]:g}"
    common.KVP = "120"
    common.ConvolutionKernel = "STANDARD"
    common.PatientPosition = "HFS"
    common.StudyInstanceUID = study_uid
    common.SeriesInstanceUID = generate_uid(entropy_srcs=[study_uid, "series"])
    common.StudyID = f"{seed}"
    common.SeriesNumber = 2
    common.AcquisitionNumber = 1
    common.FrameOfReferenceUID = generate_uid(entropy_srcs=[study_uid, "frame-of-reference"])
    common.PositionReferenceIndicator = ""
    common.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    common.SamplesPerPixel = 1
    common.PhotometricInterpretation = "MONOCHROME2"
    common.Rows, common.Columns = grid.shape[1], grid.shape[2]
    common.PixelSpacing = [f"{grid.spacing[1]:g}", f"{grid.spacing[2]:g}"]
    common.BitsAllocated, common.BitsStored, common.HighBit = 16, 12, 11
    common.PixelRepresentation = 0
    common.WindowCenter, common.WindowWidth = ["-600", "40"], ["1500", "400"]
    common.RescaleIntercept, common.RescaleSlope, common.RescaleType = RESCALE_INTERCEPT, 1, "HU"
    return common


def _series_datasets(stored, grid: Grid, origin, **identity) -> list[pydicom.Dataset]:
    """One CT Image Storage instance per slice, numbered head first as scanners do."""
    common = _series_common(grid, **identity)
    datasets = []
    slices = grid.shape[0]
    for number, k in enumerate(range(slices - 1, -1, -1), start=1):
        # Elements of its own for each slice: editing one slice must leave the others alone.
        ds = pydicom.Dataset()
        for element in common:
            ds.add(pydicom.DataElement(element.tag, element.VR, copy.copy(element.value)))
        uid = generate_uid(entropy_srcs=[common.SeriesInstanceUID, str(k)])
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = number
        position = origin + np.array([0.0, 0.0, k * grid.spacing[0]])
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.SliceLocation = f"{position[2]:.4f}"
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        datasets.append(ds)
    return datasets


def write_series(phantom: Phantom, folder: Path | str) -> list[Path]:
    """Save every slice as a Part 10 file (preamble, file meta) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in phantom.datasets:
        path = folder / f"CT{int(ds.InstanceNumber):04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def ground_truth(phantom: Phantom) -> dict:
    """The phantom's nodules as JSON-ready data, keyed by the series they belong to."""
    return {
        "study_instance_uid": phantom.study_instance_uid,
        "series_instance_uid": phantom.series_instance_uid,
        "seed": phantom.seed,
        "spacing_mm": list(phantom.spacing),
        "nodules": [asdict(n) for n in phantom.nodules],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic chest CT studies as DICOM.")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the studies in")
    parser.add_argument("--studies", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first study")
    parser.add_argument("--nodules", type=int, default=None, help="nodules per study")
    parser.add_argument(
        "--shape", type=int, nargs=3, default=DEFAULT_SHAPE, metavar=("SLICES", "ROWS", "COLUMNS")
    )
    parser.add_argument(
        "--spacing",
        type=float,
        nargs=3,
        default=DEFAULT_SPACING,
        metavar=("SLICE_MM", "ROW_MM", "COLUMN_MM"),
    )
    args = parser.parse_args(argv)
    for seed in range(args.seed, args.seed + args.studies):
        phantom = chest_ct_phantom(
            seed, nodules=args.nodules, shape=tuple(args.shape), spacing=tuple(args.spacing)
        )
        folder = args.out / f"study_{seed:05d}"
        write_series(phantom, folder)
        (folder / "ground_truth.json").write_text(json.dumps(ground_truth(phantom), indent=2))
        sizes = ", ".join(f"{n.diameter_mm:.0f} mm {n.density}" for n in phantom.nodules)
        print(f"{folder}: {len(phantom.datasets)} slices, nodules: {sizes or 'none'}")


if __name__ == "__main__":
    main()
