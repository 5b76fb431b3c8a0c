"""The model service's pure runtime (no Django): bundles, volumes with real geometry, the
runner, findings in DICOM terms, SEG/SR export, the demo model. torch and MONAI are imported by
the modules that need them, so importing this package is cheap; only workers load models."""
