"""The demo model's MONAI bundle: its configs, metadata and model card, written as one folder.

The inference runner relies on this layout and on the ids in ``inference.json`` exactly
(``network_def``, ``network``, ``preprocessing``, ``inferer``, ``postprocessing``,
``checkpoint``), and on ``x_aimass`` in ``metadata.json`` for how to turn the output into
findings. Keeping the config here, next to the training code that must match it, means the
network built for training and the one the runner builds can never drift apart.
"""

import json
from pathlib import Path

import torch

NAME = "Lung nodule segmentation (synthetic CT demo)"
VERSION = "1.0.0"
ROI_SIZE = (64, 64, 32)  # (x, y, z) voxels: the sliding window, on the phantom grid as is
TRAIN_CROP = (48, 48, 32)  # training crops: the network is fully convolutional (batch norm)
NETWORK = {
    "spatial_dims": 3,
    "in_channels": 1,
    "out_channels": 2,
    "channels": [16, 32, 64, 128],
    "strides": [2, 2, 2],
    "num_res_units": 1,
    # Batch norm: its running statistics normalise every sliding window alike, where instance
    # norm would rescale a window of liver or of air by its own statistics.
    "norm": "batch",
}
HU_WINDOW = (-1000.0, 400.0)  # mapped to [0, 1], clipped
SCHEMA = (
    "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/"
    "meta_schema_20240725.json"
)


def network_build() -> torch.nn.Module:
    """The same network ``network_def`` describes (for training, before the bundle exists)."""
    from monai.networks.nets import UNet

    return UNet(**NETWORK)


def inference_config() -> dict:
    scale = {
        "_target_": "ScaleIntensityRanged",
        "keys": "image",
        "a_min": HU_WINDOW[0],
        "a_max": HU_WINDOW[1],
        "b_min": 0.0,
        "b_max": 1.0,
        "clip": True,
    }
    return {
        "imports": ["$import torch"],
        "bundle_root": ".",
        "device": "$torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
        "network_def": {"_target_": "UNet", **NETWORK},
        "network": "$@network_def.to(@device)",
        "checkpoint": "$@bundle_root + '/models/model.pt'",
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "LoadImaged", "keys": "image"},
                {"_target_": "EnsureChannelFirstd", "keys": "image"},
                scale,
                {"_target_": "EnsureTyped", "keys": "image"},
            ],
        },
        "inferer": {
            "_target_": "SlidingWindowInferer",
            "roi_size": list(ROI_SIZE),
            "sw_batch_size": 4,
            "overlap": 0.25,
        },
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "softmax": True},
                {"_target_": "CopyItemsd", "keys": "pred", "times": 1, "names": "prob"},
                {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
            ],
        },
    }


def _tensor_format(kind: str, channels: int, channel_def: dict, fmt: str) -> dict:
    described = {
        "type": "image",
        "format": fmt,
        "num_channels": channels,
        "spatial_shape": list(ROI_SIZE),
        "dtype": "float32",
        "value_range": [0, 1],
        "is_patch_data": True,
        "channel_def": channel_def,
    }
    if kind == "input":
        described["modality"] = "CT"
    return described


def metadata(
    *,
    metrics: dict,
    min_lesion_voxels: int,
    training: dict,
    changelog: dict | None = None,
    description: str | None = None,
) -> dict:
    """metadata.json, with the measured ``metrics`` as ``eval_metrics``."""
    import monai
    import numpy

    image = _tensor_format("input", 1, {"0": "image"}, "hounsfield")
    pred = _tensor_format("output", 2, {"0": "background", "1": "nodule"}, "segmentation")
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "changelog": changelog or {VERSION: "first release, trained on synthetic phantoms"},
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__.split("+")[0],
        "numpy_version": numpy.__version__,
        "required_packages_version": {"pydicom": _version("pydicom"), "scipy": _version("scipy")},
        "name": NAME,
        "task": "Lung nodule segmentation on chest CT",
        "description": description
        or (
            "A small 3D U-Net that segments lung nodules on chest CT. Trained from scratch on "
            "synthetic chest CT phantoms (imaging.ai.demo.phantom), on their own voxel grid "
            "without resampling. A demonstration model for the AI Mass inference pipeline."
        ),
        "authors": "AI Mass project",
        "copyright": "Copyright (c) AI Mass project",
        "intended_use": (
            "Research demonstration of the AI Mass inference pipeline only. Trained on synthetic "
            "phantoms, never on patient data, and not validated on real scans. NOT for clinical "
            "use: its output must not inform any diagnosis or treatment."
        ),
        "data_source": (
            "Synthetic chest CT phantoms generated by imaging.ai.demo.phantom "
            f"(training seeds {training['train_seeds']}, held-out seeds {training['eval_seeds']})"
        ),
        "data_type": "dicom",
        "image_classes": "single channel CT intensity in HU, windowed [-1000, 400] to [0, 1]",
        "label_classes": "0 background, 1 nodule",
        "pred_classes": "0 background, 1 nodule",
        "eval_metrics": metrics,
        "training": training,
        "references": [
            "Ronneberger O. et al. U-Net: Convolutional Networks for Biomedical Image "
            "Segmentation. MICCAI 2015.",
            "Setio A.A.A. et al. Validation, comparison, and combination of algorithms for "
            "automatic detection of pulmonary nodules in CT images: the LUNA16 challenge. "
            "Medical Image Analysis 42, 2017 (FROC protocol).",
        ],
        "network_data_format": {"inputs": {"image": image}, "outputs": {"pred": pred}},
        "x_aimass": {
            "finding_kind": "segmentation",
            "labels": {"1": "nodule"},
            "critical_labels": [],
            "urgent_diameter_mm": 8,
            "min_lesion_voxels": min_lesion_voxels,
            "not_for_clinical_use": True,
            "modality": "CT",
            "body_part": "CHEST",
            "min_slices": 16,
            "model_name": "lung_nodule_ct",
        },
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def bundle_write(
    folder: Path | str, state_dict: dict, config: dict, meta: dict, readme: str
) -> Path:
    """Write (or overwrite) the bundle folder: configs, weights and model card."""
    folder = Path(folder)
    for part in ("configs", "models", "docs"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    (folder / "configs" / "inference.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "configs" / "metadata.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    )
    torch.save(state_dict, folder / "models" / "model.pt")
    (folder / "docs" / "README.md").write_text(readme)
    return folder
