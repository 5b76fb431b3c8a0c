"""Run the demo bundle the way the inference runner does, and measure it against phantoms.

``bundle_load`` and ``bundle_segment`` follow the runner's contract step by step (parse the
config, load ``models/model.pt`` into ``network``, drop the loaders and writers from the
pre/post-processing, feed a channel-less MetaTensor built from a ``Volume``), so the figures
measured here are those of the model as the application runs it, not of the training loop.

Detection is scored per nodule. Each connected component of the predicted mask is a candidate
(``imaging.ai.findings.lesions_from_labelmap``) scored by its mean nodule probability. A
candidate hits a ground-truth nodule when it overlaps the nodule's voxels or its centroid lies
within the nodule's radius; a candidate hitting none is a false positive. Sweeping the score
threshold gives the FROC curve, from which sensitivity at a fixed number of false positives per
scan is read (the LUNA16 convention). Dice is computed over nodule voxels.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..findings import lesions_from_labelmap
from ..volume import Volume

NODULE = 1
SIZE_BANDS_MM = ((0.0, 6.0), (6.0, 10.0), (10.0, 20.0), (20.0, 31.0))
FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class BundleModel:
    """A parsed bundle, ready to run: what the runner holds once per worker process."""

    network: torch.nn.Module
    preprocessing: object
    inferer: object
    postprocessing: object
    device: torch.device


def _without(compose, names: tuple[str, ...]):
    """The Compose less the transforms the runner replaces (file loading and saving)."""
    from monai.transforms import Compose

    kept = [t for t in compose.transforms if type(t).__name__ not in names]
    return Compose(kept)


def bundle_load(bundle_dir: Path | str) -> BundleModel:
    """Parse and load a bundle as the runner does: ``models/model.ts`` (TorchScript) when the
    bundle has one, else ``network`` from the config with ``models/model.pt`` loaded into it."""
    from monai.bundle import ConfigParser

    bundle_dir = Path(bundle_dir)
    parser = ConfigParser()
    parser.read_config(str(bundle_dir / "configs" / "inference.json"))
    parser["bundle_root"] = str(bundle_dir)
    device = parser.get_parsed_content("device")
    scripted = bundle_dir / "models" / "model.ts"
    if scripted.exists():
        network = torch.jit.load(str(scripted), map_location=device)
    else:
        network = parser.get_parsed_content("network")
        state = torch.load(
            bundle_dir / "models" / "model.pt", map_location=device, weights_only=True
        )
        network.load_state_dict(state)
    network.eval()
    return BundleModel(
        network=network,
        preprocessing=_without(
            parser.get_parsed_content("preprocessing"), ("LoadImage", "LoadImaged")
        ),
        inferer=parser.get_parsed_content("inferer"),
        postprocessing=_without(
            parser.get_parsed_content("postprocessing"), ("SaveImage", "SaveImaged")
        ),
        device=device,
    )


def volume_metatensor(volume: Volume):
    """The volume as MONAI's readers would give it: (x=col, y=row, z=slice), RAS affine."""
    from monai.data import MetaTensor

    return MetaTensor(
        torch.from_numpy(volume.pixels.transpose(2, 1, 0).copy()),
        affine=torch.from_numpy(volume.affine_ras()),
        meta={"original_channel_dim": "no_channel", "space": "RAS"},
    )


def bundle_segment(model: BundleModel, volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """The nodule labelmap (uint8) and nodule probability (float32), both [slice, row, col]."""
    data = model.preprocessing({"image": volume_metatensor(volume)})
    with torch.inference_mode():
        image = data["image"][None].to(model.device)
        data["pred"] = model.inferer(image, model.network)[0]
    data = model.postprocessing(data)
    labelmap = np.asarray(data["pred"].detach().cpu())[0].transpose(2, 1, 0)
    prob = np.asarray(data["prob"].detach().cpu())[NODULE].transpose(2, 1, 0)
    return labelmap.astype(np.uint8), prob.astype(np.float32)


@dataclass
class ScanResult:
    """One scan's candidates and ground truth, reduced to what the metrics need."""

    scores: list[float]  # per candidate
    hits: list[set[int]]  # per candidate: the ground-truth labels it hits
    nodules: list  # phantom Nodule records
    intersection: int = 0
    predicted: int = 0
    truth: int = 0
    seconds: float = 0.0
    voxels: list[int] = field(default_factory=list)  # per candidate


def scan_evaluate(
    labelmap, prob, volume: Volume, instances, nodules, *, min_voxels=1, seconds=0.0
) -> ScanResult:
    """Match the predicted components of one scan with its ground-truth nodules."""
    probabilities = np.stack([1.0 - prob, prob])
    candidates = lesions_from_labelmap(
        labelmap, volume, {NODULE: "nodule"}, probabilities=probabilities, min_voxels=min_voxels
    )
    spacing = np.array(volume.spacing)
    hits = []
    for candidate in candidates:
        hit = {int(v) for v in np.unique(instances[candidate.mask]) if v}
        for nodule in nodules:
            offset = (np.array(candidate.centroid_index) - np.array(nodule.center_index)) * spacing
            if np.linalg.norm(offset) <= max(nodule.diameter_mm / 2.0, float(spacing.max())):
                hit.add(nodule.label)
        hits.append(hit)
    truth = instances > 0
    predicted = labelmap == NODULE
    return ScanResult(
        scores=[float(c.score) for c in candidates],
        hits=hits,
        nodules=list(nodules),
        intersection=int((truth & predicted).sum()),
        predicted=int(predicted.sum()),
        truth=int(truth.sum()),
        seconds=seconds,
        voxels=[int(c.voxel_count) for c in candidates],
    )


def froc(results: list[ScanResult]) -> tuple[np.ndarray, np.ndarray]:
    """(false positives per scan, sensitivity) at every candidate score threshold."""
    total = sum(len(r.nodules) for r in results)
    flat = [(s, i, h) for i, r in enumerate(results) for s, h in zip(r.scores, r.hits, strict=True)]
    flat.sort(key=lambda item: -item[0])
    found: set[tuple[int, int]] = set()
    false_positives, fps, sens = 0, [0.0], [0.0]
    for _, scan, hit in flat:
        if hit:
            found.update((scan, label) for label in hit)
        else:
            false_positives += 1
        fps.append(false_positives / max(len(results), 1))
        sens.append(len(found) / max(total, 1))
    return np.array(fps), np.array(sens)


def sensitivity_at(results: list[ScanResult], fp_per_scan: float) -> float:
    fps, sens = froc(results)
    return float(sens[fps <= fp_per_scan].max())


def _detected(results: list[ScanResult]) -> list[tuple[object, bool]]:
    pairs = []
    for result in results:
        found = set().union(*result.hits) if result.hits else set()
        pairs.extend((n, n.label in found) for n in result.nodules)
    return pairs


def _rate(pairs) -> dict:
    hit = sum(1 for _, d in pairs if d)
    return {
        "nodules": len(pairs),
        "detected": hit,
        "sensitivity": round(hit / len(pairs), 3) if pairs else None,
    }


def metrics_summarize(results: list[ScanResult]) -> dict:
    """The figures for the model card: Dice, FROC points, sensitivity by size and density."""
    pairs = _detected(results)
    intersection = sum(r.intersection for r in results)
    denominator = sum(r.predicted + r.truth for r in results)
    per_scan = [2 * r.intersection / (r.predicted + r.truth) for r in results if r.truth]
    fps, _ = froc(results)
    bands = {}
    for low, high in SIZE_BANDS_MM:
        name = f"{low:g}-{min(high, 30):g} mm"
        bands[name] = _rate([(n, d) for n, d in pairs if low <= n.diameter_mm < high])
    densities = {
        kind: _rate([(n, d) for n, d in pairs if n.density == kind])
        for kind in ("solid", "part-solid", "ground-glass")
    }
    sens_points = {f"{rate:g}": round(sensitivity_at(results, rate), 3) for rate in FP_RATES}
    return {
        "scans": len(results),
        "nodules": len(pairs),
        "dice_global": round(2 * intersection / max(denominator, 1), 3),
        "dice_mean_per_scan": round(float(np.mean(per_scan)), 3) if per_scan else None,
        "sensitivity_at_1fp_per_scan": sens_points["1"],
        "sensitivity_overall": _rate(pairs)["sensitivity"],
        "fp_per_scan_overall": round(float(fps[-1]), 3),
        "cpm": round(float(np.mean(list(sens_points.values()))), 3),
        "sensitivity_at_fp_per_scan": sens_points,
        "sensitivity_by_diameter": bands,
        "sensitivity_by_density": densities,
        "inference_seconds_mean": round(float(np.mean([r.seconds for r in results])), 2),
    }


def phantoms_evaluate(model: BundleModel, phantoms, *, min_voxels=1) -> list[ScanResult]:
    """Run the bundle on each phantom (read back from its DICOM datasets) and match."""
    from ..volume import volume_from_datasets

    results = []
    for phantom in phantoms:
        volume = volume_from_datasets(phantom.datasets)
        started = time.perf_counter()
        labelmap, prob = bundle_segment(model, volume)
        seconds = time.perf_counter() - started
        results.append(
            scan_evaluate(
                labelmap,
                prob,
                volume,
                phantom.instances,
                phantom.nodules,
                min_voxels=min_voxels,
                seconds=seconds,
            )
        )
    return results


def results_with_min_voxels(results: list[ScanResult], min_voxels: int) -> list[ScanResult]:
    """The same scans with candidates smaller than ``min_voxels`` dropped (Dice unchanged)."""
    kept = []
    for r in results:
        keep = [i for i, v in enumerate(r.voxels) if v >= min_voxels]
        kept.append(
            ScanResult(
                [r.scores[i] for i in keep],
                [r.hits[i] for i in keep],
                r.nodules,
                r.intersection,
                r.predicted,
                r.truth,
                r.seconds,
                [r.voxels[i] for i in keep],
            )
        )
    return kept
