"""The bundle's docs/README.md, written from its metadata so the card and the figures in
metadata.json can never disagree."""


def _table(rows: dict) -> str:
    lines = ["| group | nodules | detected | sensitivity |", "|---|---:|---:|---:|"]
    for name, row in rows.items():
        sensitivity = "n/a" if row["sensitivity"] is None else f"{row['sensitivity']:.2f}"
        lines.append(f"| {name} | {row['nodules']} | {row['detected']} | {sensitivity} |")
    return "\n".join(lines)


def _points(points: dict) -> str:
    lines = ["| min_lesion_voxels | sensitivity | FP per scan |", "|---:|---:|---:|"]
    lines += [
        f"| {n} | {p['sensitivity']:.3f} | {p['fp_per_scan']:.2f} |" for n, p in points.items()
    ]
    return "\n".join(lines)


def _evaluation(metrics: dict, training: dict) -> str:
    if not metrics:
        return "Not evaluated yet."
    froc = " · ".join(
        f"{rate} FP: {value:.2f}" for rate, value in metrics["sensitivity_at_fp_per_scan"].items()
    )
    return f"""Held-out set: {metrics["scans"]} phantoms (seeds {training["eval_seeds"]}, never seen
in training, nodule count drawn per phantom so some scans have none), {metrics["nodules"]}
nodules. Each scan is read back from its DICOM instances and run through the bundle exactly as
the AI Mass runner does (preprocessing without `LoadImaged`, sliding-window inference, softmax,
argmax). Candidates are the 26-connected components of the nodule mask with at least
{metrics["min_lesion_voxels"]} voxel(s) (`x_aimass.min_lesion_voxels`), scored by their mean
nodule probability. A candidate detects a nodule when it overlaps the nodule's ground-truth
voxels or its centroid lies within the nodule's radius (at least one voxel); otherwise it is a
false positive. Sensitivity at N false positives per scan is read from the FROC curve obtained
by sweeping the score threshold (LUNA16 convention); CPM is its mean over 1/8 to 8 FP/scan.

| metric | value |
|---|---:|
| Dice over nodule voxels (all scans pooled) | {metrics["dice_global"]:.3f} |
| Dice, mean over scans with nodules | {metrics["dice_mean_per_scan"]} |
| Sensitivity at 1 FP/scan | {metrics["sensitivity_at_1fp_per_scan"]:.3f} |
| Sensitivity, all candidates | {metrics["sensitivity_overall"]:.3f} |
| False positives per scan, all candidates | {metrics["fp_per_scan_overall"]:.2f} |
| CPM (mean sensitivity at 1/8-8 FP/scan) | {metrics["cpm"]:.3f} |
| Inference time per scan (CPU, 2 threads) | {metrics["inference_seconds_mean"]:.1f} s |

FROC points: {froc}.

`min_lesion_voxels` is the largest size threshold that keeps the best sensitivity at 1 FP/scan,
so the runner's list of findings is as short as it can be at that operating point. Every
threshold measured (sensitivity and false positives per scan with all remaining candidates):

{_points(metrics.get("operating_points_by_min_lesion_voxels", {}))}

Sensitivity by longest diameter (all candidates of at least `min_lesion_voxels`):

{_table(metrics["sensitivity_by_diameter"])}

Sensitivity by density (same candidates):

{_table(metrics["sensitivity_by_density"])}
"""


def model_card(meta: dict) -> str:
    metrics, training = meta["eval_metrics"], meta["training"]
    data_format = meta["network_data_format"]
    roi = data_format["inputs"]["image"]["spatial_shape"]
    net = meta.get("network", "MONAI UNet")
    return f"""# {meta["name"]}

**NOT FOR CLINICAL USE.** {meta["intended_use"]}

Version {meta["version"]} · MONAI {meta["monai_version"]} · PyTorch {meta["pytorch_version"]}

## Description

{meta["description"]} {net}: see `network_def` in `configs/inference.json`.

## Intended use

A research and engineering demonstration: it lets the AI Mass pipeline (DICOM in, findings,
DICOM SEG and overlays out, doctor review) run end to end on synthetic studies with a model whose
behaviour is known. It has never seen a real CT scan; on one its output is meaningless.

## Input

One axial CT series (single-frame CT Image Storage instances), built into a volume on its own
grid without resampling and given to the network as a channel-first float32 tensor in MONAI's
(x = column, y = row, z = slice) order. Preprocessing: `EnsureChannelFirstd`, then
`ScaleIntensityRanged` from [-1000, 400] HU to [0, 1] with clipping, then `EnsureTyped`. The
network was trained on a 2.2 × 2.2 mm in-plane, 2.5 mm slice grid; scans far from that spacing
will be handled poorly, since nothing resamples them. Inference is a sliding window of
{roi} voxels (x, y, z), overlap 0.25.

## Output

`pred`: the argmax labelmap (0 background, 1 nodule) on the input grid; `prob`: the softmax
probabilities (channel 1 = nodule), kept for scoring components.

## Labels

| value | label |
|---:|---|
| 0 | background |
| 1 | nodule |

## Training data

Only synthetic phantoms from `imaging.ai.demo.phantom` (seeds {training["train_seeds"]}): a chest
with skin, fat and muscle, ribs, sternum and spine, mediastinum with heart, aorta, trachea and
hilar arteries, diaphragm domes with liver and stomach, lungs with a density gradient and
texture, branching tapering vessel trees, and 1-4 nodules of 4-30 mm (log-uniform diameter):
solid, part-solid and ground-glass; spheres, ellipsoids and lobulated; free, or touching a vessel
or the pleura. Blur and correlated noise of 10-25 HU imitate the scanner. Grid: 160 × 160 pixels
of 2.2 mm, 80 slices of 2.5 mm.

## Training

{training["epochs"]} epochs over {training["train_phantoms"]} phantoms, each epoch
{training["crops_per_phantom"]} random crops of {training["crop_size"]} voxels per phantom: two
centred on a nodule (each nodule of a phantom equally likely, whatever its size) for every one
centred on nodule-free tissue (half in the lungs, half anywhere in the body); flips, 90° in-plane
rotations and small intensity changes. Loss: {training["loss"]}. {training["optimiser"]} (peak
{training["learning_rate"]}), seed {training["seed"]}. Wall time on this project's 2-core CPU
machine, {training["cpu_threads"]} thread(s) for the network and one worker for the crops:
phantoms {training["phantoms_s"]} s, training {training["training_s"]} s, evaluation
{training.get("evaluation_s", "n/a")} s.

Reproduce: `python -m imaging.ai.demo.train --out DIR --seed {training["seed"]}
--epochs {training["epochs"]}`.

## Evaluation

{_evaluation(metrics, training)}
## Limitations

- Trained and tested on synthetic phantoms only. Real scans have anatomy, pathology (emphysema,
  fibrosis, atelectasis, effusions, calcified granulomas), artefacts and reconstruction kernels
  the phantoms lack; no performance on patient data is claimed or expected.
- Nodules of 4-6 mm span one or two voxels at this spacing: their detection is the weakest, and
  faint ground-glass nodules are often missed.
- No resampling: the model assumes about 2.2 mm pixels and 2.5 mm slices.
- The figures above come from a small held-out set of phantoms drawn by the same generator as the
  training data, so they measure fit to the generator, not clinical accuracy.
"""
