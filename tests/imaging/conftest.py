"""Fixtures shared with the review tests: a study a real model read."""

from ..review.conftest import model_version, read_study  # noqa: F401
