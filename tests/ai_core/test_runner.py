"""The runner on analytic phantoms: a sphere of known centre and radius must come back on
exactly the slices and pixels it occupies, whatever the orientation, spacing and file order."""

import math

import numpy as np
import pytest

from imaging.ai.bundle import bundle_inspect
from imaging.ai.runner import bundle_check, bundle_load, run
from imaging.ai.volume import volume_from_datasets

from .builders import ct_series, sphere_hu, threshold_bundle

OBLIQUE = dict(
    row_cosine=(math.cos(0.4), math.sin(0.4), 0.0),
    column_cosine=(-math.sin(0.4) * math.cos(0.2), math.cos(0.4) * math.cos(0.2), math.sin(0.2)),
)


def _phantom(geometry, *, shape=(24, 40, 36), spacing=(2.0, 1.5, 1.2), radius=9.0):
    origin = (-20.0, -30.0, -25.0)
    row, column = np.asarray(geometry["row_cosine"]), np.asarray(geometry["column_cosine"])
    normal = np.cross(row, column)
    # The centre sits off the grid's middle so a flipped axis would show.
    centre = (
        np.asarray(origin)
        + row * spacing[2] * 20.3
        + column * spacing[1] * 17.6
        + normal * spacing[0] * 13.2
    )
    hu, mask = sphere_hu(
        shape, spacing=spacing, origin=origin, centre_lps=centre, radius_mm=radius, **geometry
    )
    datasets = ct_series(hu, spacing=spacing, origin=origin, **geometry)
    return datasets, mask, centre


@pytest.mark.parametrize(
    "geometry",
    [dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)), OBLIQUE],
    ids=["axial", "oblique"],
)
@pytest.mark.parametrize("torchscript", [True, False], ids=["model.ts", "network_def+model.pt"])
def test_a_sphere_comes_back_on_its_exact_pixels(tmp_path, geometry, torchscript):
    datasets, mask, centre = _phantom(geometry)
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(threshold_bundle(tmp_path / "b", torchscript=torchscript)))

    result = run(bundle, volume)

    assert len(result.findings) == 1
    finding = result.findings[0]
    assert np.array_equal(result.labelmap == 1, mask)
    assert np.array_equal(finding.mask, mask)
    assert finding.label == "lesion"
    assert finding.score > 0.99
    # Centroid within half a voxel of the true centre, in patient coordinates.
    assert np.linalg.norm(np.asarray(finding.centroid_lps) - centre) < 0.6
    # Size within one voxel of the truth.
    assert abs(finding.diameter_mm - 18.0) <= max(volume.spacing)
    voxel = volume.voxel_volume_mm3
    assert abs(finding.volume_mm3 - 4 / 3 * math.pi * 9.0**3) < 0.15 * 4 / 3 * math.pi * 9.0**3
    assert finding.volume_mm3 == mask.sum() * voxel
    # Every frame it touches, and the pixel box on each, point at the right SOP instance.
    by_uid = {ds.SOPInstanceUID: ds for ds in datasets}
    touched = set()
    for box in finding.instances:
        ds = by_uid[box.sop_instance_uid]
        k = int(
            round(
                (np.asarray(ds.ImagePositionPatient, float) - volume.origin)
                @ volume.normal
                / volume.spacing[0]
            )
        )
        touched.add(k)
        rows = np.flatnonzero(mask[k].any(axis=1))
        cols = np.flatnonzero(mask[k].any(axis=0))
        assert box.frame == 1
        assert box.bbox == (cols[0], rows[0], cols[-1], rows[-1])
    assert touched == set(np.flatnonzero(mask.any(axis=(1, 2))))


def test_a_bundle_that_resamples_gets_its_prediction_mapped_back_to_the_series_grid(tmp_path):
    datasets, mask, centre = _phantom(dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)))
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(threshold_bundle(tmp_path / "b", spacing=[1.0, 1.0, 1.0])))

    result = run(bundle, volume)

    assert len(result.findings) == 1
    agreement = (result.labelmap == 1) == mask
    # Resampling twice blurs the boundary by at most a voxel; the inside and outside agree.
    assert agreement.mean() > 0.99
    assert np.linalg.norm(np.asarray(result.findings[0].centroid_lps) - centre) < 1.0


def test_the_declared_input_is_checked_against_the_network(tmp_path):
    root = threshold_bundle(
        tmp_path / "b",
        metadata_extra={},
    )
    info = bundle_inspect(root)
    info.inputs["image"]["num_channels"] = 3  # the conv takes one channel
    from imaging.ai.bundle import BundleError

    with pytest.raises(BundleError) as error:
        bundle_check(bundle_load(info))
    assert error.value.code == "input_spec_mismatch"


def test_a_2d_bundle_runs_slice_by_slice_in_batches_and_lands_on_the_same_pixels(tmp_path):
    datasets, mask, centre = _phantom(OBLIQUE)
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(threshold_bundle(tmp_path / "b", dims=2)))
    assert bundle.info.spatial_dims == 2

    result = run(bundle, volume, slice_batch=5)

    assert np.array_equal(result.labelmap == 1, mask)
    (finding,) = result.findings
    assert np.linalg.norm(np.asarray(finding.centroid_lps) - centre) < 0.6
    assert finding.score > 0.99


def test_the_saliency_map_is_on_the_series_grid_and_peaks_at_the_lesion(tmp_path):
    from imaging.ai.saliency import gradient_saliency

    datasets, mask, _ = _phantom(dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)))
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(threshold_bundle(tmp_path / "b")))
    result = run(bundle, volume)

    heat = gradient_saliency(bundle, volume, label=1, region=result.labelmap == 1)

    assert heat.shape == volume.shape and heat.dtype == np.float32
    assert 0.0 <= heat.min() and heat.max() <= 1.0
    # The model's output depends only on the lesion's voxels: the heat is there, not elsewhere.
    near = ndimage_dilate(mask, 2)
    assert heat[near].mean() > 20 * heat[~near].mean()


def ndimage_dilate(mask, iterations):
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=iterations)


def _hungry_bundle(root, fits):
    import json

    threshold_bundle(root, torchscript=False)
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["network_def"] = {"_target_": "tests.ai_core.builders.MemoryHungry", "fits": fits}
    config["inferer"]["sw_batch_size"] = 8
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    import torch

    from .builders import MemoryHungry

    torch.save(MemoryHungry(fits).state_dict(), root / "models" / "model.pt")
    return root


def test_running_out_of_memory_retries_with_smaller_batches(tmp_path):
    datasets, mask, _ = _phantom(dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)))
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(_hungry_bundle(tmp_path / "b", fits=2)))

    result = run(bundle, volume)

    assert bundle.inferer.sw_batch_size == 2
    assert np.array_equal(result.labelmap == 1, mask)


def test_a_model_that_never_fits_fails_clearly(tmp_path):
    from imaging.ai.runner import RunnerError

    datasets, _, _ = _phantom(dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)))
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(_hungry_bundle(tmp_path / "b", fits=0)))

    with pytest.raises(RunnerError) as error:
        run(bundle, volume)
    assert error.value.code == "out_of_memory"


def _classifier_bundle(root):
    """A classification bundle: global mean of the scaled image through a stock Linear layer,
    two classes ("normal", "abnormal"), abnormal when the volume holds enough tissue."""
    import json

    import torch

    threshold_bundle(root, torchscript=False)
    metadata = json.loads((root / "configs" / "metadata.json").read_text())
    metadata["network_data_format"]["outputs"]["pred"] = {
        "type": "probabilities",
        "format": "classes",
        "num_channels": 2,
        "channel_def": {"0": "normal", "1": "abnormal"},
    }
    (root / "configs" / "metadata.json").write_text(json.dumps(metadata))
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["network_def"] = (
        "$torch.nn.Sequential(torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten(), "
        "torch.nn.Linear(1, 2))"
    )
    config["inferer"] = {"_target_": "SimpleInferer"}
    config["postprocessing"] = {"_target_": "Compose", "transforms": []}
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    linear = torch.nn.Linear(1, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[-400.0], [400.0]]))
        linear.bias.copy_(torch.tensor([4.0, -4.0]))  # abnormal above 1% tissue
    state = {"2.weight": linear.weight.detach(), "2.bias": linear.bias.detach()}
    torch.save(state, root / "models" / "model.pt")
    return root


def test_a_classification_bundle_gives_a_series_finding_with_its_probability(tmp_path):
    datasets, _, _ = _phantom(dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)), radius=9.0)
    volume = volume_from_datasets(datasets)
    bundle = bundle_load(bundle_inspect(_classifier_bundle(tmp_path / "b")))
    assert bundle.info.kind == "classification"

    (finding,) = run(bundle, volume).findings

    assert (finding.kind, finding.label) == ("classification", "abnormal")
    assert finding.score > 0.9 and not finding.instances


def test_detection_boxes_become_findings_on_every_slice_they_span(tmp_path):
    from imaging.ai.runner import detection_findings

    datasets, _, _ = _phantom(dict(row_cosine=(1, 0, 0), column_cosine=(0, 1, 0)))
    volume = volume_from_datasets(datasets)
    info = bundle_inspect(threshold_bundle(tmp_path / "b"))
    info.labels = {0: "nodule"}
    data = {
        "box": [[10.2, 12.0, 4.0, 19.7, 20.0, 7.0], [1, 1, 1, 2, 2, 2]],
        "label": [0, 0],
        "label_scores": [0.9, 0.2],  # the second is under the 0.5 threshold
    }

    (finding,) = detection_findings(info, data, volume)

    assert (finding.kind, finding.label) == ("detection", "nodule")
    assert finding.score == pytest.approx(0.9)
    assert finding.bbox_index == (4, 12, 10, 7, 20, 20)
    assert [b.sop_instance_uid for b in finding.instances] == [
        volume.slices[z].sop_instance_uid for z in range(4, 8)
    ]
    assert all(b.bbox == (10, 12, 20, 20) for b in finding.instances)
