"""A compressed variant of the demo bundle, measured against the float model it comes from.

    python -m imaging.ai.demo.compress --bundle imaging/ai/demo/lung_nodule_ct \\
        --out imaging/ai/demo/lung_nodule_ct_fp16 [--kind fp16|int8]

What runs on a CPU decided the method, and it was measured rather than assumed (on this
project's two-core AMD EPYC, AVX2, no AVX-512):

- ``quantize_dynamic`` covers Linear and LSTM layers only; this network is all convolutions.
- Half-precision or bfloat16 *compute* runs, but about 30 times slower than float32 here
  (no native fp16/bf16 arithmetic on AVX2).
- Static int8 quantisation of the convolutions (``--kind int8``: FX graph mode, x86/fbgemm
  backend, calibrated on phantom windows, traced to TorchScript ``models/model.ts``) runs, but
  was about 3 times slower than float32 and lost the nodule class altogether (no detection on the
  held-out phantoms), with histogram or min-max calibration alike.
- Half-precision *storage* (``--kind fp16``, the shipped variant): ``models/model.pt`` holds the
  convolution kernels in float16; ``load_state_dict`` casts them back into the float32 network,
  so it runs like the float model at the same speed, from a file half the size.

Both models are run the runner's way on the same held-out phantoms, alternately, and the
variant's metadata records its figures next to the float model's: accuracy, agreement between
the two masks, file size and time per scan.
"""

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from . import bundle
from .compress_card import variant_model_card
from .evaluate import bundle_load, bundle_segment, metrics_summarize, scan_evaluate
from .phantom import chest_ct_phantom

CALIBRATION_SEED_BASE = 2_000_000  # neither training (10000+) nor evaluation (1000000+)
DESCRIPTIONS = {
    "fp16": "the same weights with the convolution kernels stored in half precision "
    "(models/model.pt; biases and BatchNorm statistics stay float32), cast back to float32 when "
    "loaded into network_def, so it computes in float32 like the float bundle from a file half "
    "the size.",
    "int8": "the same weights statically quantised to int8 (weights and activations; FX graph "
    "mode, x86/fbgemm backend), calibrated on sliding windows of phantoms outside the training "
    "and evaluation seeds, traced to TorchScript (models/model.ts).",
}


def half_state_dict(state: dict) -> dict:
    """Convolution kernels (nearly all the bytes) to float16; biases, BatchNorm statistics and
    counters stay as they are. The running variances go past float16's largest value (65504:
    up to 2e6 here, after the transposed convolutions), and halved they became infinities that
    cut the float and fp16 masks' agreement to a Dice of 0.40."""
    return {k: v.half() if v.is_floating_point() and v.ndim >= 2 else v for k, v in state.items()}


def calibration_windows(count: int = 8, per_phantom: int = 6, seed: int = 0) -> list:
    """Windows the size of the inferer's, preprocessed as the bundle does, from fresh phantoms,
    half of them centred on nodules, so the int8 ranges cover what the network really sees."""
    rng = np.random.default_rng(seed)
    low, high = bundle.HU_WINDOW
    roi = np.array(bundle.ROI_SIZE)
    windows = []
    for index in range(count):
        phantom = chest_ct_phantom(CALIBRATION_SEED_BASE + index, nodules=3, dicom=False)
        image = np.clip((phantom.hu.transpose(2, 1, 0) - low) / (high - low), 0, 1)
        centres = [np.array(n.center_index[::-1]) for n in phantom.nodules][: per_phantom // 2]
        while len(centres) < per_phantom:
            centres.append(rng.uniform(0, 1, 3) * np.array(image.shape))
        for centre in centres:
            corner = np.clip(np.round(centre - roi / 2).astype(int), 0, np.array(image.shape) - roi)
            box = tuple(slice(c, c + r) for c, r in zip(corner, roi, strict=True))
            windows.append(torch.from_numpy(image[box].astype(np.float32))[None, None])
    return windows


def int8_network(network: torch.nn.Module, windows: list) -> torch.jit.ScriptModule:
    """Statically quantised (int8 weights and activations) TorchScript of ``network``."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    example = torch.zeros(1, 1, *bundle.ROI_SIZE)
    prepared = prepare_fx(network.eval(), get_default_qconfig_mapping("x86"), (example,))
    with torch.inference_mode():
        for window in windows:
            prepared(window)
    quantized = convert_fx(prepared)
    with torch.inference_mode():
        return torch.jit.freeze(torch.jit.trace(quantized, example))


def variant_bundle_write(source: Path, out: Path, kind: str) -> Path:
    """The variant folder: the source's configs, the compressed weights. Returns the weights."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source / "configs", out / "configs")
    (out / "models").mkdir(parents=True)
    (out / "docs").mkdir()
    state = torch.load(source / "models" / "model.pt", map_location="cpu", weights_only=True)
    if kind == "fp16":
        weights = out / "models" / "model.pt"
        torch.save(half_state_dict(state), weights)
        return weights
    network = bundle.network_build()
    network.load_state_dict(state)
    weights = out / "models" / "model.ts"
    torch.jit.save(int8_network(network, calibration_windows()), str(weights))
    config = json.loads((out / "configs" / "inference.json").read_text())
    # The runner loads models/model.ts in preference to network_def + model.pt.
    config["checkpoint"] = "$@bundle_root + '/models/model.ts'"
    config["network"] = "$torch.jit.load(@checkpoint, map_location=@device)"
    (out / "configs" / "inference.json").write_text(json.dumps(config, indent=2) + "\n")
    return weights


def _mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum() + b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def variants_compare(
    float_dir: Path, variant_dir: Path, kind: str, seeds, *, min_voxels: int
) -> dict:
    """Both bundles, run the runner's way on the same phantoms; each scan is timed for both,
    in alternating order, and the faster of two runs is kept, so background load on the
    machine blurs the comparison as little as it can."""
    from ..volume import volume_from_datasets

    models = {"float32": bundle_load(float_dir), kind: bundle_load(variant_dir)}
    results = {name: [] for name in models}
    agreement = []
    for index, seed in enumerate(seeds):
        phantom = chest_ct_phantom(seed)
        volume = volume_from_datasets(phantom.datasets)
        outputs = {}
        order = list(models) if index % 2 == 0 else list(models)[::-1]
        for name in order * 2:
            started = time.perf_counter()
            labelmap, prob = bundle_segment(models[name], volume)
            seconds = min(time.perf_counter() - started, outputs.get(name, (0, 0, np.inf))[2])
            outputs[name] = (labelmap, prob, seconds)
        for name, (labelmap, prob, seconds) in outputs.items():
            results[name].append(
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
        agreement.append(_mask_dice(outputs["float32"][0] == 1, outputs[kind][0] == 1))
    summary = {name: metrics_summarize(r) for name, r in results.items()}
    summary["mask_agreement_dice_mean"] = round(float(np.mean(agreement)), 3)
    return summary


def variant_metadata(source_meta: dict, kind: str, comparison: dict, sizes: dict) -> dict:
    meta = json.loads(json.dumps(source_meta))
    meta["name"] = source_meta["name"].replace("demo)", f"demo, {kind})")
    # A version of the same model (registered beside the float one, not active).
    meta["version"] = f"{source_meta['version']}-{kind}"
    meta["changelog"] = {
        meta["version"]: f"{kind} variant of the float model {source_meta['version']}"
    }
    meta["description"] = f"{source_meta['description']} This variant: {DESCRIPTIONS[kind]}"
    metrics = comparison[kind]
    metrics["float32_reference"] = comparison["float32"]
    metrics["mask_agreement_dice_mean"] = comparison["mask_agreement_dice_mean"]
    metrics["weights_bytes"] = sizes
    meta["eval_metrics"] = metrics
    meta["x_aimass"]["model_name"] = source_meta["x_aimass"]["model_name"]
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a compressed variant of the demo bundle.")
    parser.add_argument("--bundle", type=Path, required=True, help="the float bundle")
    parser.add_argument("--out", type=Path, required=True, help="the variant folder to write")
    parser.add_argument("--kind", choices=sorted(DESCRIPTIONS), default="fp16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    source_meta = json.loads((args.bundle / "configs" / "metadata.json").read_text())
    weights = variant_bundle_write(args.bundle, args.out, args.kind)
    first, last = source_meta["training"]["eval_seeds"].split("-")
    comparison = variants_compare(
        args.bundle,
        args.out,
        args.kind,
        range(int(first), int(last) + 1),
        min_voxels=source_meta["x_aimass"]["min_lesion_voxels"],
    )
    sizes = {
        "float32": (args.bundle / "models" / "model.pt").stat().st_size,
        args.kind: weights.stat().st_size,
    }
    meta = variant_metadata(source_meta, args.kind, comparison, sizes)
    (args.out / "configs" / "metadata.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    )
    (args.out / "docs" / "README.md").write_text(variant_model_card(meta, args.kind))
    print(
        json.dumps(
            {k: v for k, v in meta["eval_metrics"].items() if k != "float32_reference"}, indent=2
        )
    )


if __name__ == "__main__":
    main()
