"""Run a MONAI Bundle on a volume and turn its output into findings in DICOM terms.

The bundle's own ``preprocessing``, ``inferer`` and ``postprocessing`` run through MONAI's
config parser, with the bundle's network. The bundle's file loader and writer are the only parts
replaced: the runner hands over the series as a MetaTensor with its real affine (as MONAI's DICOM
readers would give it) and takes the prediction back in memory. A bundle whose transforms
resample (Orientationd, Spacingd) without inverting them gets its prediction resampled back onto
the series' grid, so every output lands on the pixels it was computed for.

torch and MONAI are imported here, never at web start-up: only workers import this module.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from monai.inferers import SimpleInferer
from monai.transforms import (
    Compose,
    EnsureChannelFirst,
    EnsureChannelFirstd,
    LoadImage,
    LoadImaged,
    ResampleToMatch,
    SaveImage,
    SaveImaged,
)
from monai.utils import MetaKeys

from .bundle import BundleError, BundleInfo
from .findings import CLASSIFICATION, DETECTION, SEGMENTATION, Finding, lesions_from_labelmap
from .volume import Volume

IO_TRANSFORMS = (LoadImage, LoadImaged, SaveImage, SaveImaged)
IO_NAMES = {"LoadImage", "LoadImaged", "SaveImage", "SaveImaged"}
CHANNEL_TRANSFORMS = (EnsureChannelFirst, EnsureChannelFirstd)


class RunnerError(Exception):
    """A run that failed; ``code`` is stable, ``message`` says why; ``transient`` may retry."""

    def __init__(self, code: str, message: str, *, transient: bool = False):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.transient = transient


@dataclass
class LoadedBundle:
    info: BundleInfo
    network: torch.nn.Module
    preprocessing: Callable | None
    inferer: Callable
    postprocessing: Callable | None
    device: torch.device
    adds_channel: bool  # the preprocessing has its own EnsureChannelFirst


@dataclass
class RunResult:
    findings: list[Finding]
    labelmap: np.ndarray | None = None  # [slice, row, column] label values, segmentation only
    probabilities: np.ndarray | None = (
        None  # [label, slice, row, column], when the bundle gives them
    )
    seconds_forward: float = 0.0
    seconds_total: float = 0.0
    log: list[str] = field(default_factory=list)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _without_io(transform):
    """The bundle's Compose minus file loading and saving (the runner does both in memory)."""
    if transform is None:
        return None
    if isinstance(transform, Compose):
        transform.transforms = [t for t in transform.transforms if not isinstance(t, IO_TRANSFORMS)]
    return transform


def _drop_io_config(parser: ConfigParser, key: str) -> None:
    """Remove loaders and writers from a Compose's transform list before it is built: a writer
    may otherwise fail to build (an output folder the worker cannot create)."""
    if key not in parser:
        return
    config = parser[key]
    transforms = config.get("transforms") if isinstance(config, dict) else None
    if isinstance(transforms, list):
        parser[f"{key}#transforms"] = [
            t
            for t in transforms
            if not (isinstance(t, dict) and str(t.get("_target_", "")).split(".")[-1] in IO_NAMES)
        ]


def _has_channel_transform(transform) -> bool:
    if isinstance(transform, Compose):
        return any(_has_channel_transform(t) for t in transform.transforms)
    return isinstance(transform, CHANNEL_TRANSFORMS)


def bundle_load(info: BundleInfo, *, device: torch.device | None = None) -> LoadedBundle:
    """Parse the bundle's inference config and load its network with the weights."""
    device = device or default_device()
    parser = ConfigParser()
    try:
        parser.read_config(str(info.config_file))
        parser.read_meta(str(info.root / "configs" / "metadata.json"))
    except Exception as exc:  # noqa: BLE001 - any parse error is the bundle's
        raise BundleError(
            "config_invalid", f"{info.config_file.name} cannot be read: {exc}"
        ) from exc
    parser["bundle_root"] = str(info.root)
    parser["device"] = device
    for key in ("preprocessing", "postprocessing"):
        _drop_io_config(parser, key)
    network = _network_load(info, parser, device)
    try:
        preprocessing = (
            _without_io(parser.get_parsed_content("preprocessing"))
            if "preprocessing" in parser
            else None
        )
        inferer = parser.get_parsed_content("inferer") if "inferer" in parser else SimpleInferer()
        postprocessing = (
            _without_io(parser.get_parsed_content("postprocessing"))
            if "postprocessing" in parser
            else None
        )
    except Exception as exc:  # noqa: BLE001
        raise BundleError("config_invalid", f"The inference config cannot be built: {exc}") from exc
    return LoadedBundle(
        info=info,
        network=network,
        preprocessing=preprocessing,
        inferer=inferer,
        postprocessing=postprocessing,
        device=device,
        adds_channel=_has_channel_transform(preprocessing),
    )


def _network_load(info: BundleInfo, parser: ConfigParser, device: torch.device) -> torch.nn.Module:
    if info.weights_file.suffix == ".ts":
        try:
            network = torch.jit.load(str(info.weights_file), map_location=device)
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
            raise BundleError(
                "weights_corrupt", f"models/model.ts is not a loadable TorchScript file: {exc}"
            ) from exc
    else:
        if "network_def" not in parser:
            raise BundleError(
                "config_invalid", 'models/model.pt needs a "network_def" in the inference config.'
            )
        try:
            network = parser.get_parsed_content("network_def")
        except Exception as exc:  # noqa: BLE001
            raise BundleError("config_invalid", f"network_def cannot be built: {exc}") from exc
        try:
            state = torch.load(str(info.weights_file), map_location=device, weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise BundleError("weights_corrupt", f"models/model.pt cannot be read: {exc}") from exc
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]  # MONAI's CheckpointSaver layout
        try:
            network.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001
            raise BundleError(
                "weights_mismatch", f"The weights do not fit network_def: {exc}"
            ) from exc
    return network.to(device).eval()


def bundle_check(bundle: LoadedBundle) -> None:
    """A forward pass on zeros of the declared input shape: the declared input and output must
    match what the network really takes and gives."""
    info = bundle.info
    spec_in, spec_out = info.inputs[info.input_name], info.outputs[info.output_name]
    shape = [_dimension(v) for v in spec_in.get("spatial_shape") or [32, 32, 32]]
    x = torch.zeros((1, int(spec_in["num_channels"]), *shape), device=bundle.device)
    try:
        with torch.inference_mode():
            y = bundle.network(x)
    except Exception as exc:  # noqa: BLE001
        raise BundleError(
            "input_spec_mismatch",
            f"The network does not accept the declared input {list(x.shape[1:])}: "
            f"{_first_line(exc)}",
        ) from exc
    if isinstance(y, (list, tuple)):
        y = y[0]
    if not isinstance(y, torch.Tensor):
        return  # detection networks give dicts; their shape is not declared
    channels = int(spec_out["num_channels"])
    if y.ndim < 2 or y.shape[1] != channels:
        raise BundleError(
            "output_spec_mismatch",
            f"The network gives {y.shape[1] if y.ndim > 1 else y.shape[0]} output channels, "
            f"metadata.json declares {channels}.",
        )


def _dimension(value) -> int:
    """A spatial_shape entry: a number, or MONAI's "16*n" form (taken with n = 2)."""
    if isinstance(value, int):
        return value
    text = str(value).replace(" ", "")
    if "*n" in text:
        return int(text.split("*")[0]) * 2
    try:
        return int(text)
    except ValueError:
        return 32


def _first_line(exc: BaseException) -> str:
    # MONAI wraps a transform's error ("applying transform ..."): the cause says what happened.
    while exc.__cause__ is not None and isinstance(exc, RuntimeError):
        exc = exc.__cause__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def volume_metatensor(volume: Volume, *, with_channel: bool) -> MetaTensor:
    """The volume as MONAI expects a loaded image: (x=column, y=row, z=slice), RAS affine."""
    array = torch.from_numpy(np.ascontiguousarray(volume.pixels.transpose(2, 1, 0)))
    meta = {MetaKeys.ORIGINAL_CHANNEL_DIM: "no_channel", "filename_or_obj": "series"}
    if with_channel:
        array = array[None]
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = 0
    return MetaTensor(array, affine=torch.from_numpy(volume.affine_ras()), meta=meta)


def _forward(bundle: LoadedBundle, batch: torch.Tensor) -> torch.Tensor:
    """Run the inferer; on running out of GPU memory retry with smaller sliding-window batches."""
    inferer = bundle.inferer
    while True:
        try:
            with torch.inference_mode():
                return inferer(batch.to(bundle.device), bundle.network)
        except (torch.OutOfMemoryError, MemoryError) as exc:
            if bundle.device.type == "cuda":
                torch.cuda.empty_cache()
            size = getattr(inferer, "sw_batch_size", 1)
            if size <= 1:
                raise RunnerError(
                    "out_of_memory", "The model ran out of memory even one window at a time."
                ) from exc
            inferer.sw_batch_size = max(1, size // 2)


def run(bundle: LoadedBundle, volume: Volume, *, slice_batch: int = 16) -> RunResult:
    """Run the bundle on one volume and interpret its output by the bundle's finding kind.
    A 2D bundle runs slice by slice, ``slice_batch`` slices per forward pass (halved when the
    device runs out of memory)."""
    started = time.perf_counter()
    info = bundle.info
    try:
        if info.spatial_dims == 2:
            data, source, forward_seconds = _run_slices(bundle, volume, slice_batch)
        else:
            data, source, forward_seconds = _run_volume(bundle, volume)
    except RunnerError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own failure, reported on the job
        raise RunnerError(
            "model_error", f"The model failed: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc

    if info.kind == SEGMENTATION:
        result = _segmentation_result(info, data, volume, source)
    elif info.kind == CLASSIFICATION:
        result = RunResult(findings=_classification_findings(info, data[info.output_name]))
    else:
        result = RunResult(findings=detection_findings(info, data, volume))
    result.seconds_forward = forward_seconds
    result.seconds_total = time.perf_counter() - started
    return result


def _run_volume(bundle: LoadedBundle, volume: Volume):
    info = bundle.info
    source = volume_metatensor(volume, with_channel=not bundle.adds_channel)
    data = {info.input_name: source}
    if bundle.preprocessing is not None:
        data = bundle.preprocessing(data)
    image = data[info.input_name]
    forward_started = time.perf_counter()
    prediction = _forward(bundle, torch.as_tensor(image)[None])
    forward_seconds = time.perf_counter() - forward_started
    data[info.output_name] = prediction[0] if isinstance(prediction, torch.Tensor) else prediction
    if bundle.postprocessing is not None:
        data = bundle.postprocessing(data)
    return data, source, forward_seconds


def slice_metatensor(volume: Volume, z: int, *, with_channel: bool) -> MetaTensor:
    """Slice ``z`` as a 2D image (x=column, y=row) with its in-plane RAS affine."""
    affine3 = volume.affine_ras()
    affine = np.eye(3)
    affine[:2, :2] = affine3[:2, :2]
    affine[:2, 2] = (affine3 @ np.array([0.0, 0.0, float(z), 1.0]))[:2]
    array = torch.from_numpy(np.ascontiguousarray(volume.pixels[z].T))
    meta = {MetaKeys.ORIGINAL_CHANNEL_DIM: "no_channel", "filename_or_obj": f"slice-{z}"}
    if with_channel:
        array = array[None]
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = 0
    return MetaTensor(array, affine=torch.from_numpy(affine), meta=meta)


def _run_slices(bundle: LoadedBundle, volume: Volume, slice_batch: int):
    """A 2D bundle over every slice, in batches; outputs stacked back into (C, x, y, z)."""
    info = bundle.info
    outputs, probabilities = [], []
    forward_seconds = 0.0
    z, batch = 0, max(1, slice_batch)
    while z < volume.shape[0]:
        items = []
        for k in range(z, min(z + batch, volume.shape[0])):
            item = {
                info.input_name: slice_metatensor(volume, k, with_channel=not bundle.adds_channel)
            }
            items.append(bundle.preprocessing(item) if bundle.preprocessing is not None else item)
        stacked = torch.stack([torch.as_tensor(item[info.input_name]) for item in items])
        forward_started = time.perf_counter()
        try:
            prediction = _forward(bundle, stacked)
        except RunnerError as exc:
            if exc.code == "out_of_memory" and batch > 1:
                batch //= 2  # fewer slices at once, same slices again
                continue
            raise
        forward_seconds += time.perf_counter() - forward_started
        for item, output in zip(items, prediction, strict=True):
            image = item[info.input_name]
            # A batch's outputs lose their own slice's geometry: give back the input's.
            affine = image.affine if isinstance(image, MetaTensor) else None
            item[info.output_name] = MetaTensor(
                torch.as_tensor(output).as_subclass(torch.Tensor), affine=affine
            )
            if bundle.postprocessing is not None:
                item = bundle.postprocessing(item)
            if info.kind == SEGMENTATION:
                reference = slice_metatensor(volume, z, with_channel=True)
                outputs.append(_on_source_grid(item[info.output_name], reference, mode="nearest"))
                if "prob" in item:
                    probabilities.append(_on_source_grid(item["prob"], reference, mode="bilinear"))
            else:
                outputs.append(item[info.output_name])
            z += 1
    source = volume_metatensor(volume, with_channel=True)
    if info.kind != SEGMENTATION:
        # A series-level answer from per-slice answers: the most confident slice speaks.
        scores = torch.stack([torch.as_tensor(o).float().flatten() for o in outputs])
        return {info.output_name: scores.max(dim=0).values}, source, forward_seconds
    data = {info.output_name: MetaTensor(np.stack(outputs, axis=-1), affine=source.affine)}
    if probabilities:
        data["prob"] = MetaTensor(np.stack(probabilities, axis=-1), affine=source.affine)
    return data, source, forward_seconds


def _on_source_grid(tensor, source: MetaTensor, *, mode: str) -> np.ndarray:
    """A channel-first prediction on the source volume's grid, as numpy [C, x, y, z]."""
    tensor = tensor if isinstance(tensor, MetaTensor) else MetaTensor(torch.as_tensor(tensor))
    spatial = len(source.affine) - 1  # 3 for a volume, 2 for a slice
    if tensor.ndim == spatial:
        tensor = tensor[None]
    reference = source if source.ndim == spatial + 1 else source[None]
    if tuple(tensor.shape[1:]) != tuple(reference.shape[1:]) or not np.allclose(
        np.asarray(tensor.affine), np.asarray(reference.affine), atol=1e-3
    ):
        tensor = ResampleToMatch(mode=mode)(tensor.float(), img_dst=reference)
    return np.asarray(tensor.detach().cpu().numpy())


def _segmentation_result(
    info: BundleInfo, data: dict, volume: Volume, source: MetaTensor
) -> RunResult:
    prediction = data[info.output_name]
    array = _on_source_grid(prediction, source, mode="nearest")
    if array.shape[0] > 1:  # probabilities or logits per channel, not yet discrete
        labelmap = array.argmax(axis=0)
    else:
        labelmap = np.rint(array[0])
    labelmap = labelmap.astype(np.uint8).transpose(2, 1, 0)  # back to [slice, row, column]
    probabilities = None
    if "prob" in data:
        prob = _on_source_grid(data["prob"], source, mode="bilinear")
        probabilities = prob.transpose(0, 3, 2, 1)
    extras = info.extras
    findings = lesions_from_labelmap(
        labelmap,
        volume,
        info.labels,
        probabilities=probabilities,
        min_voxels=int(extras.get("min_lesion_voxels", 1)),
    )
    return RunResult(findings=findings, labelmap=labelmap, probabilities=probabilities)


def _classification_findings(info: BundleInfo, output) -> list[Finding]:
    scores = torch.as_tensor(output).detach().float().flatten().cpu()
    if scores.numel() > 1 and (
        scores.min() < 0 or scores.max() > 1 or abs(float(scores.sum()) - 1) > 1e-3
    ):
        scores = torch.softmax(scores, dim=0)
    elif scores.numel() == 1 and (scores.item() < 0 or scores.item() > 1):
        scores = torch.sigmoid(scores)
    threshold = float(info.extras.get("threshold", 0.5))
    findings = []
    for index, name in sorted(info.labels.items()):
        if index < scores.numel() and float(scores[index]) >= threshold:
            findings.append(
                Finding(
                    label=name, kind=CLASSIFICATION, score=float(scores[index]), label_index=index
                )
            )
    return findings


def detection_findings(info: BundleInfo, data: dict, volume: Volume) -> list[Finding]:
    """MONAI's detection convention: ``box`` (N x 6, x0 y0 z0 x1 y1 z1 in voxels of the input),
    ``label`` and ``label_scores``; boxes become findings on each slice they span."""
    from .findings import FrameBox

    output = data.get(info.output_name)
    source = output if isinstance(output, dict) else data
    boxes = np.asarray(torch.as_tensor(source.get("box", [])).detach().cpu(), dtype=float).reshape(
        -1, 6
    )
    labels = np.asarray(
        torch.as_tensor(source.get("label", [0] * len(boxes))).detach().cpu()
    ).reshape(-1)
    scores = np.asarray(
        torch.as_tensor(source.get("label_scores", [1.0] * len(boxes))).detach().cpu()
    ).reshape(-1)
    threshold = float(info.extras.get("threshold", 0.5))
    depth, rows, columns = volume.shape
    dz, dy, dx = volume.spacing
    findings = []
    for box, label, score in zip(boxes, labels, scores, strict=False):
        if score < threshold:
            continue
        x0, y0, z0 = (
            int(np.clip(np.floor(v), 0, m - 1))
            for v, m in zip(box[:3], (columns, rows, depth), strict=True)
        )
        x1, y1, z1 = (
            int(np.clip(np.ceil(v), 0, m - 1))
            for v, m in zip(box[3:], (columns, rows, depth), strict=True)
        )
        centre = ((z0 + z1) / 2, (y0 + y1) / 2, (x0 + x1) / 2)
        size = ((z1 - z0 + 1) * dz, (y1 - y0 + 1) * dy, (x1 - x0 + 1) * dx)
        findings.append(
            Finding(
                label=info.labels.get(int(label), str(int(label))),
                kind=DETECTION,
                score=float(score),
                label_index=int(label),
                diameter_mm=float(max(size)),
                centroid_index=tuple(float(v) for v in centre),
                centroid_lps=tuple(float(v) for v in volume.index_to_lps(centre)),
                bbox_index=(z0, y0, x0, z1, y1, x1),
                instances=[
                    FrameBox(
                        volume.slices[z].sop_instance_uid, volume.slices[z].frame, (x0, y0, x1, y1)
                    )
                    for z in range(z0, z1 + 1)
                ],
            )
        )
    return findings
