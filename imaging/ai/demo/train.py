"""Train the demo nodule model on synthetic phantoms and write the complete bundle.

    python -m imaging.ai.demo.train --out imaging/ai/demo/lung_nodule_ct [--seed 0] [--epochs 24]

Reproducible on CPU: every source of randomness (phantoms, crops, augmentation, weight init,
batch order) is seeded from ``--seed``, and the phantoms are drawn afresh from their seeds, so no
data set is shipped. The held-out phantoms use seeds far from the training ones, and evaluation
runs the written bundle through the runner's code path (``evaluate.bundle_load``), so the figures
in the model card are those of the files as shipped.
"""

import argparse
import json
import multiprocessing
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from . import bundle
from .evaluate import bundle_load, metrics_summarize, phantoms_evaluate, results_with_min_voxels
from .model_card import model_card
from .phantom import chest_ct_phantom

EVAL_SEED_BASE = 1_000_000  # held-out phantoms, whatever the training seed
LUNG_HU = (-950.0, -400.0)  # where hard negatives (vessels, pleura) live
BODY_HU = -300.0  # above this: the body's soft tissue and bone
NODULE_WEIGHT_VOXELS = 400.0  # about a 20 mm nodule on the phantom grid
EVAL_THREADS = 2  # inference is timed as the runner would run it on this two-core machine


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    epochs: int = 24
    train_phantoms: int = 48
    eval_phantoms: int = 16
    crops_per_phantom: int = 4
    phantoms_per_batch: int = 1
    learning_rate: float = 3e-3
    # One thread for the network and one core for data: with two threads, any other load on a
    # two-core machine stalls every parallel region (measured 0.4-2.6 s a step against 0.5 s).
    threads: int = 1
    processes: int = 2  # phantom generation

    @property
    def train_seeds(self) -> range:
        start = 10_000 * (self.seed + 1)
        return range(start, start + self.train_phantoms)

    @property
    def eval_seeds(self) -> range:
        return range(EVAL_SEED_BASE, EVAL_SEED_BASE + self.eval_phantoms)


def training_pair(seed: int) -> dict:
    """One phantom as a training sample in MONAI's (x, y, z) order, intensity as the bundle's
    preprocessing leaves it, with the crop centres precomputed: nodule voxels as positives and
    lung voxels as negatives, so negative crops show vessels and pleura rather than air."""
    phantom = chest_ct_phantom(seed, nodules=1 + seed % 4, dicom=False)
    hu = phantom.hu.transpose(2, 1, 0)
    label = phantom.mask.transpose(2, 1, 0)
    instances = phantom.instances.transpose(2, 1, 0)
    low, high = bundle.HU_WINDOW
    image = np.clip((hu - low) / (high - low), 0.0, 1.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    return {
        "image": image[None],
        "label": label[None].astype(np.float32),
        "weight": _nodule_weights(instances)[None],
        "fg": _per_nodule_centres(instances, rng),
        "bg": _negative_centres(hu, label, rng),
    }


def _nodule_weights(instances: np.ndarray) -> np.ndarray:
    """Cross-entropy weight per voxel: 1, raised on the voxels of small nodules so that every
    nodule weighs about as much as a 20 mm one. Unweighted, a 25 mm nodule's 500 voxels
    outweigh a 6 mm nodule's 6 and the network learns that small blobs are vessels."""
    counts = np.bincount(instances.ravel())
    per_label = np.ones(len(counts), dtype=np.float32)
    per_label[1:] = np.clip(NODULE_WEIGHT_VOXELS / np.maximum(counts[1:], 1), 1.0, 100.0)
    return per_label[instances]


def _negative_centres(hu: np.ndarray, label: np.ndarray, rng, count: int = 4096) -> np.ndarray:
    """Nodule-free crop centres, half in the lungs (vessels and pleura, the look-alikes) and half
    anywhere in the body (heart, liver, bone), so that neither is left for false positives."""
    lung = np.flatnonzero((hu > LUNG_HU[0]) & (hu < LUNG_HU[1]) & (label == 0))
    body = np.flatnonzero((hu > BODY_HU) & (label == 0))
    return np.concatenate([rng.choice(lung, count // 2), rng.choice(body, count // 2)])


def _per_nodule_centres(instances: np.ndarray, rng, per_nodule: int = 64) -> np.ndarray:
    """Crop centres drawn from each nodule's voxels in equal numbers. Sampling all nodule voxels
    alike would centre nearly every crop on the large nodules (a 25 mm one has 200 times the
    voxels of a 5 mm one) and leave the small ones, the hard ones, unlearnt."""
    flat = instances.ravel()
    centres = [
        rng.choice(np.flatnonzero(flat == label), size=per_nodule)
        for label in np.unique(flat[flat > 0])
    ]
    return np.concatenate(centres) if centres else np.array([], dtype=np.int64)


def augmentation(settings: TrainSettings):
    from monai.transforms import (
        Compose,
        DeleteItemsd,
        RandCropByPosNegLabeld,
        RandFlipd,
        RandRotate90d,
        RandScaleIntensityd,
        RandShiftIntensityd,
    )

    keys = ["image", "label", "weight"]
    transforms = Compose(
        [
            RandCropByPosNegLabeld(
                keys,
                label_key="label",
                spatial_size=bundle.TRAIN_CROP,
                pos=2,
                neg=1,
                num_samples=settings.crops_per_phantom,
                fg_indices_key="fg",
                bg_indices_key="bg",
            ),
            DeleteItemsd(["fg", "bg"]),  # crop centres only: they must not reach the batch
            RandFlipd(keys, prob=0.5, spatial_axis=0),
            RandFlipd(keys, prob=0.5, spatial_axis=1),
            RandFlipd(keys, prob=0.5, spatial_axis=2),
            RandRotate90d(keys, prob=0.5, spatial_axes=(0, 1)),
            RandScaleIntensityd("image", factors=0.05, prob=0.5),
            RandShiftIntensityd("image", offsets=0.02, prob=0.5),
        ]
    )
    transforms.set_random_state(seed=settings.seed)
    return transforms


def network_train(settings: TrainSettings, pairs: list[dict], log=print) -> torch.nn.Module:
    from monai.data import DataLoader, Dataset
    from monai.losses import DiceLoss

    net = bundle.network_build()
    # One worker crops and augments the next batch on the second core while the network trains
    # on the first; its random state derives from the seeded generator, so runs repeat.
    loader = DataLoader(
        Dataset(pairs, augmentation(settings)),
        batch_size=settings.phantoms_per_batch,
        shuffle=True,
        num_workers=1,
        persistent_workers=True,
        generator=torch.Generator().manual_seed(settings.seed),
    )
    # Dice pooled over the batch (a nodule-free crop has no Dice of its own; per crop, Dice on
    # empty crops saturates and false positives went unpunished), plus cross-entropy weighted
    # per voxel so small nodules count (see _nodule_weights).
    dice = DiceLoss(to_onehot_y=True, softmax=True, include_background=False, batch=True)

    def loss_function(logits, label, weight):
        ce = torch.nn.functional.cross_entropy(logits, label[:, 0].long(), reduction="none")
        return dice(logits, label) + (ce * weight[:, 0]).sum() / weight.sum()

    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    steps = settings.epochs * len(loader)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, settings.learning_rate, steps, pct_start=0.1
    )
    net.train()
    step, started = 0, time.perf_counter()
    for epoch in range(settings.epochs):
        losses = []
        for batch in loader:
            optimiser.zero_grad()
            # Plain tensors: MetaTensor's per-operation bookkeeping would triple the step time.
            image, label = batch["image"].as_tensor(), batch["label"].as_tensor()
            loss = loss_function(net(image), label, batch["weight"].as_tensor())
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
        log(
            f"epoch {epoch + 1}/{settings.epochs}  step {step}/{steps}  "
            f"loss {np.mean(losses):.4f}  {time.perf_counter() - started:.0f} s"
        )
    net.eval()
    return net


MIN_VOXEL_CHOICES = (1, 2, 3, 4, 6, 8, 10, 15, 20)


def _min_voxels_choose(results) -> tuple[int, dict, dict]:
    """The component size below which the runner drops a candidate. Every choice is measured;
    the largest one that keeps the best sensitivity at 1 FP/scan is taken: the operating point
    that matters keeps its sensitivity, and doctors get the shortest list of false positives."""
    figures = {n: metrics_summarize(results_with_min_voxels(results, n)) for n in MIN_VOXEL_CHOICES}
    best = max(f["sensitivity_at_1fp_per_scan"] for f in figures.values())
    chosen = max(n for n, f in figures.items() if f["sensitivity_at_1fp_per_scan"] == best)
    points = {
        str(n): {"sensitivity": f["sensitivity_overall"], "fp_per_scan": f["fp_per_scan_overall"]}
        for n, f in figures.items()
    }
    return chosen, figures[chosen], points


def bundle_evaluate(out: Path, settings: TrainSettings, training: dict, log=print) -> dict:
    """Evaluate the bundle in ``out`` on the held-out phantoms, the runner's way, and write
    its final metadata and model card (the weights are left as they are)."""
    torch.set_num_threads(EVAL_THREADS)
    started = time.perf_counter()
    model = bundle_load(out)
    phantoms = [chest_ct_phantom(seed) for seed in settings.eval_seeds]
    results = phantoms_evaluate(model, phantoms)
    min_voxels, metrics, points = _min_voxels_choose(results)
    training = {**training, "evaluation_s": round(time.perf_counter() - started, 1)}
    metrics["min_lesion_voxels"] = min_voxels
    metrics["operating_points_by_min_lesion_voxels"] = points
    meta = bundle.metadata(metrics=metrics, min_lesion_voxels=min_voxels, training=training)
    (out / "configs" / "metadata.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    )
    (out / "docs" / "README.md").write_text(model_card(meta))
    log(json.dumps(metrics, indent=2))
    return meta


def bundle_train(settings: TrainSettings, out: Path, log=print) -> dict:
    """Everything: phantoms, training, the bundle written to ``out``, evaluation, model card."""
    torch.set_num_threads(settings.threads)
    from monai.utils import set_determinism

    set_determinism(seed=settings.seed)
    torch.manual_seed(settings.seed)
    timings = {}
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(settings.processes) as pool:
        pairs = pool.map(training_pair, settings.train_seeds, chunksize=1)
    timings["phantoms_s"] = round(time.perf_counter() - started, 1)
    log(f"{len(pairs)} training phantoms in {timings['phantoms_s']} s")
    started = time.perf_counter()
    net = network_train(settings, pairs, log)
    timings["training_s"] = round(time.perf_counter() - started, 1)
    del pairs

    training = {
        **{k: v for k, v in asdict(settings).items() if k not in ("threads", "processes")},
        "train_seeds": f"{settings.train_seeds.start}-{settings.train_seeds.stop - 1}",
        "eval_seeds": f"{settings.eval_seeds.start}-{settings.eval_seeds.stop - 1}",
        "crop_size": list(bundle.TRAIN_CROP),
        "loss": "Dice (softmax, nodule channel, pooled over the batch) + cross-entropy "
        "weighted up on small nodules",
        "optimiser": "Adam, one-cycle learning rate",
        "cpu_threads": settings.threads,
        **timings,
    }
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    # Provisional metadata first: evaluation loads the bundle exactly as written.
    bundle.bundle_write(
        out,
        state,
        bundle.inference_config(),
        bundle.metadata(metrics={}, min_lesion_voxels=1, training=training),
        "",
    )
    return bundle_evaluate(out, settings, training, log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the demo lung nodule bundle.")
    parser.add_argument("--out", type=Path, required=True, help="bundle folder to write")
    defaults = TrainSettings()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--train-phantoms", type=int, default=defaults.train_phantoms)
    parser.add_argument("--eval-phantoms", type=int, default=defaults.eval_phantoms)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument(
        "--evaluate-only",
        action="store_true",
        help="re-evaluate the bundle in --out and rewrite its metadata and card",
    )
    args = parser.parse_args(argv)
    settings = TrainSettings(
        seed=args.seed,
        epochs=args.epochs,
        train_phantoms=args.train_phantoms,
        eval_phantoms=args.eval_phantoms,
        threads=args.threads,
    )
    started = time.perf_counter()
    if args.evaluate_only:
        meta = json.loads((args.out / "configs" / "metadata.json").read_text())
        bundle_evaluate(args.out, settings, meta["training"])
    else:
        bundle_train(settings, args.out)
    print(f"bundle written to {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
