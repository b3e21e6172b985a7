"""Fixtures: small synthetic recordings made once per test session (see samples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media.samples import make_samples


@pytest.fixture(scope="session")
def media_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> path of each sample in tests.media.samples.make_samples (about 5 s to make)."""
    return make_samples(tmp_path_factory.mktemp("media-samples"))
