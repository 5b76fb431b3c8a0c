"""MONAI Bundles: unpack, inspect and validate one, so a bad bundle is refused at import with a
clear reason instead of failing a job later.

A bundle is a folder (or a zip of one) holding ``configs/metadata.json`` (with
``network_data_format`` describing inputs and outputs), ``configs/inference.json`` (or .yaml)
and the weights: ``models/model.ts`` (TorchScript) or ``models/model.pt`` (a state dict for the
config's ``network_def``). Our own additions live under ``x_aimass`` in metadata.json and are all
optional: ``model_name``, ``finding_kind``, ``labels``, ``critical_labels``,
``urgent_diameter_mm``, ``min_lesion_voxels``, ``not_for_clinical_use``, ``saliency``.
"""

import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .findings import CLASSIFICATION, DETECTION, SEGMENTATION

MAX_UNPACKED_BYTES = 4 * 1024**3
CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")


class BundleError(Exception):
    """A bundle that cannot be imported or run; ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class BundleInfo:
    root: Path
    name: str  # registry name: x_aimass.model_name, else the bundle folder's name
    version: str
    title: str
    metadata: dict
    config_file: Path
    weights_file: Path
    inputs: dict
    outputs: dict
    kind: str  # segmentation | classification | detection
    labels: dict[int, str] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    @property
    def input_name(self) -> str:
        return next(iter(self.inputs))

    @property
    def output_name(self) -> str:
        return next(iter(self.outputs))

    @property
    def spatial_dims(self) -> int:
        shape = self.inputs[self.input_name].get("spatial_shape") or []
        return len(shape) if len(shape) in (2, 3) else 3

    @property
    def not_for_clinical_use(self) -> bool:
        if "not_for_clinical_use" in self.extras:
            return bool(self.extras["not_for_clinical_use"])
        text = f"{self.metadata.get('intended_use', '')} {self.metadata.get('description', '')}"
        return bool(re.search(r"not (be )?(intended )?for clinical|research use only", text, re.I))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:64] or "model"


def bundle_unpack(source: Path, workdir: Path) -> Path:
    """A bundle folder for ``source``: the folder itself, or a zip extracted under ``workdir``.
    Zip members may not escape the target folder nor unpack to more than 4 GiB."""
    source = Path(source)
    if source.is_dir():
        return _bundle_root(source)
    if not zipfile.is_zipfile(source):
        raise BundleError(
            "not_a_bundle", f"{source.name} is neither a bundle folder nor a zip file."
        )
    target = Path(workdir) / _slug(source.stem)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with zipfile.ZipFile(source) as archive:
        total = 0
        for member in archive.infolist():
            total += member.file_size
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise BundleError(
                    "unsafe_zip", f"Zip member {member.filename!r} points outside the bundle."
                )
            if total > MAX_UNPACKED_BYTES:
                raise BundleError("too_large", "The bundle unpacks to more than 4 GiB.")
        try:
            archive.extractall(target)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError("corrupt_zip", f"The zip file cannot be read: {exc}") from exc
    # A zip of the bundle's contents is named after the zip; a zip of a folder, after the folder.
    return _bundle_root(target)


def _bundle_root(folder: Path) -> Path:
    """The folder holding configs/: the given one, or its only subfolder (zips of a folder)."""
    if (folder / "configs").is_dir():
        return folder
    children = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    if len(children) == 1 and (children[0] / "configs").is_dir():
        return children[0]
    raise BundleError("metadata_missing", "No configs/ folder with metadata.json in the bundle.")


def bundle_inspect(root: Path, *, name: str | None = None) -> BundleInfo:
    """Read and check a bundle's metadata and layout (no torch needed)."""
    root = Path(root)
    metadata_file = root / "configs" / "metadata.json"
    if not metadata_file.is_file():
        raise BundleError("metadata_missing", "configs/metadata.json is missing.")
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(
            "metadata_invalid", f"configs/metadata.json is not valid JSON: {exc}"
        ) from exc
    if not isinstance(metadata, dict):
        raise BundleError("metadata_invalid", "configs/metadata.json must hold an object.")
    version = str(metadata.get("version") or "").strip()
    if not version or len(version) > 32:
        raise BundleError(
            "metadata_invalid", 'metadata.json needs a "version" (at most 32 characters).'
        )
    data_format = metadata.get("network_data_format")
    if not isinstance(data_format, dict):
        raise BundleError("metadata_invalid", 'metadata.json has no "network_data_format".')
    inputs, outputs = data_format.get("inputs"), data_format.get("outputs")
    if not (isinstance(inputs, dict) and inputs and isinstance(outputs, dict) and outputs):
        raise BundleError(
            "metadata_invalid",
            "network_data_format must describe at least one input and one output.",
        )
    for key, spec in {**inputs, **outputs}.items():
        if not isinstance(spec, dict) or "num_channels" not in spec:
            raise BundleError(
                "metadata_invalid", f"network_data_format entry {key!r} lacks num_channels."
            )

    config_file = next(
        (root / "configs" / n for n in CONFIG_NAMES if (root / "configs" / n).is_file()), None
    )
    if config_file is None:
        raise BundleError("config_missing", "configs/inference.json is missing.")
    weights = root / "models" / "model.ts"
    if not weights.is_file():
        weights = root / "models" / "model.pt"
    if not weights.is_file():
        raise BundleError(
            "weights_missing", "Neither models/model.ts nor models/model.pt is in the bundle."
        )

    extras = metadata.get("x_aimass") or {}
    if not isinstance(extras, dict):
        raise BundleError("metadata_invalid", "x_aimass in metadata.json must be an object.")
    output = outputs[next(iter(outputs))]
    kind = extras.get("finding_kind") or _kind_from_output(output)
    if kind not in (SEGMENTATION, CLASSIFICATION, DETECTION):
        raise BundleError("metadata_invalid", f"Unknown finding kind {kind!r}.")
    labels = _labels(extras.get("labels") or output.get("channel_def") or {}, kind)
    return BundleInfo(
        root=root,
        name=_slug(name or extras.get("model_name") or root.name),
        version=version,
        title=str(metadata.get("name") or root.name)[:200],
        metadata=metadata,
        config_file=config_file,
        weights_file=weights,
        inputs=inputs,
        outputs=outputs,
        kind=kind,
        labels=labels,
        extras=extras,
    )


def _kind_from_output(output: dict) -> str:
    text = f"{output.get('type', '')} {output.get('format', '')}".lower()
    if "segment" in text or output.get("type") == "image":
        return SEGMENTATION
    if "box" in text or "object" in text or "detect" in text:
        return DETECTION
    return CLASSIFICATION


def _labels(channel_def: dict, kind: str) -> dict[int, str]:
    labels = {}
    for key, value in channel_def.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise BundleError("metadata_invalid", f"Label key {key!r} is not a number.") from None
        name = str(value).strip()
        if kind == SEGMENTATION and (index == 0 or name.lower() == "background"):
            continue
        labels[index] = name[:64]
    return labels
