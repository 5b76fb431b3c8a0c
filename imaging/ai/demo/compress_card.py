"""docs/README.md of a compressed variant, written from its metadata (figures measured by
``compress``), beside the float model's for comparison."""

ROWS = (
    ("Dice over nodule voxels (pooled)", "dice_global", 3),
    ("Sensitivity at 1 FP/scan", "sensitivity_at_1fp_per_scan", 3),
    ("Sensitivity, all candidates", "sensitivity_overall", 3),
    ("False positives per scan, all candidates", "fp_per_scan_overall", 2),
    ("CPM (1/8-8 FP/scan)", "cpm", 3),
    ("Inference time per scan, s (best of two, CPU, 2 threads)", "inference_seconds_mean", 2),
)


def _cell(metrics: dict, key: str, digits: int) -> str:
    value = metrics.get(key)
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def variant_model_card(meta: dict, kind: str) -> str:
    metrics = meta["eval_metrics"]
    reference = metrics["float32_reference"]
    sizes = metrics["weights_bytes"]
    table = "\n".join(
        f"| {label} | {_cell(reference, key, d)} | {_cell(metrics, key, d)} |"
        for label, key, d in ROWS
    )
    return f"""# {meta["name"]}

**NOT FOR CLINICAL USE.** {meta["intended_use"]}

## What this variant is

{meta["description"]}

Inputs, outputs, labels, preprocessing, sliding window and `x_aimass` are those of the float
bundle `lung_nodule_ct`; see its model card for the training data, the protocol and the
limitations, which all apply here.

## Float32 against {kind}: same held-out phantoms, the runner's code path

| metric | float32 | {kind} |
|---|---:|---:|
{table}
| Weights file, bytes | {sizes["float32"]} | {sizes[kind]} |

Mean Dice between the two models' masks, per scan: {metrics["mask_agreement_dice_mean"]}.

Each scan was run twice per model, alternating which went first, and the faster run kept; the
machine is a shared two-core CPU, so time differences of a few percent are noise.

## Why this variant and not another

Measured on this project's CPU machine (AMD EPYC, AVX2, no AVX-512): dynamic int8
quantisation does not apply (it covers Linear and LSTM layers; this network is all
convolutions); half-precision and bfloat16 compute run about 30 times slower than float32; static
int8 quantisation (FX graph mode, x86/fbgemm, TorchScript) ran about 3 times slower and lost the
nodule class (no detection at all on the held-out phantoms). Half-precision storage is the one
that gains something (a file half the size) at no cost in speed; its accuracy is in the table.
`python -m imaging.ai.demo.compress --kind int8` rebuilds the int8 variant for comparison.
"""
