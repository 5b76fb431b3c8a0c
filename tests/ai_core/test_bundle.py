"""Bad bundles are refused at import with a clear code, never later in a job."""

import json
import zipfile

import pytest

from imaging.ai.bundle import BundleError, bundle_inspect, bundle_unpack
from imaging.ai.runner import bundle_check, bundle_load

from .builders import threshold_bundle


def _error(callable_, *args, **kwargs) -> BundleError:
    with pytest.raises(BundleError) as error:
        callable_(*args, **kwargs)
    return error.value


def _load_and_check(root):
    bundle_check(bundle_load(bundle_inspect(root)))


def test_a_good_bundle_is_read_with_its_name_version_kind_and_labels(tmp_path):
    info = bundle_inspect(threshold_bundle(tmp_path / "Lesion Finder", version="2.1.0"))
    assert (info.name, info.version, info.kind) == ("lesion-finder", "2.1.0", "segmentation")
    assert info.labels == {1: "lesion"}
    assert info.not_for_clinical_use
    assert info.weights_file.name == "model.ts"
    _load_and_check(info.root)


def test_a_zip_of_the_bundle_folder_unpacks_to_the_same_bundle(tmp_path):
    root = threshold_bundle(tmp_path / "src" / "lesion_finder")
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*"):
            zf.write(path, path.relative_to(root.parent))
    unpacked = bundle_unpack(archive, tmp_path / "work")
    assert bundle_inspect(unpacked).name == "lesion-finder"


def test_missing_metadata_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    (root / "configs" / "metadata.json").unlink()
    assert _error(bundle_inspect, root).code == "metadata_missing"


def test_metadata_without_a_network_data_format_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    metadata = json.loads((root / "configs" / "metadata.json").read_text())
    del metadata["network_data_format"]
    (root / "configs" / "metadata.json").write_text(json.dumps(metadata))
    error = _error(bundle_inspect, root)
    assert error.code == "metadata_invalid" and "network_data_format" in error.message


def test_metadata_that_is_not_json_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    (root / "configs" / "metadata.json").write_text("{version: 1")
    assert _error(bundle_inspect, root).code == "metadata_invalid"


def test_missing_weights_are_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    (root / "models" / "model.ts").unlink()
    assert _error(bundle_inspect, root).code == "weights_missing"


def test_corrupt_torchscript_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    data = (root / "models" / "model.ts").read_bytes()
    (root / "models" / "model.ts").write_bytes(data[: len(data) // 2])
    assert _error(_load_and_check, root).code == "weights_corrupt"


def test_weights_that_do_not_fit_the_network_def_are_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b", torchscript=False)
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["network_def"]["out_channels"] = 3
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    assert _error(_load_and_check, root).code == "weights_mismatch"


def test_an_input_spec_that_does_not_match_the_network_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    metadata = json.loads((root / "configs" / "metadata.json").read_text())
    metadata["network_data_format"]["inputs"]["image"]["num_channels"] = 4
    (root / "configs" / "metadata.json").write_text(json.dumps(metadata))
    error = _error(_load_and_check, root)
    assert error.code == "input_spec_mismatch" and "[4, 16, 16, 16]" in error.message


def test_an_output_spec_that_does_not_match_the_network_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    metadata = json.loads((root / "configs" / "metadata.json").read_text())
    metadata["network_data_format"]["outputs"]["pred"]["num_channels"] = 5
    (root / "configs" / "metadata.json").write_text(json.dumps(metadata))
    assert _error(_load_and_check, root).code == "output_spec_mismatch"


def test_a_config_that_names_an_unknown_transform_is_refused(tmp_path):
    root = threshold_bundle(tmp_path / "b")
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["preprocessing"]["transforms"].append({"_target_": "NoSuchTransformd", "keys": "image"})
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    assert _error(_load_and_check, root).code == "config_invalid"


def test_a_zip_that_escapes_its_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside.txt", "x")
    assert _error(bundle_unpack, archive, tmp_path / "work").code == "unsafe_zip"
    assert not (tmp_path / "outside.txt").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"not a zip")
    assert _error(bundle_unpack, path, tmp_path / "work").code == "not_a_bundle"
