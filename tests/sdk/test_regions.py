"""Region names come from botocore's partition data, read as botocore's own loader reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.loaders import Loader, create_loader

from stacks_cloud.core import regions


def test_the_partitions_are_botocores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/models here
    assert regions._partitions() == create_loader().load_data("partitions")
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= set(
        region for partition in regions._partitions()["partitions"] for region in partition["regions"]
    )


def test_a_customer_partitions_file_wins_as_with_the_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    models = tmp_path / ".aws" / "models"
    models.mkdir(parents=True)
    (models / "partitions.json").write_text(
        json.dumps({"partitions": [{"partition": "test", "regions": {"xx-test-1": {}, "aws-global": {}}}]})
    )
    monkeypatch.setattr(Loader, "CUSTOMER_DATA_PATH", str(models))  # the loader reads HOME once, at import
    assert regions._partitions() == create_loader().load_data("partitions")
    regions.known_regions.cache_clear()
    try:
        assert regions.known_regions() == {"xx-test-1"}  # "-global" pseudo-regions are not regions
        assert regions.region_problem("xx-test-1") is None
        assert "is not an AWS region" in (regions.region_problem("us-east-1") or "")
    finally:
        regions.known_regions.cache_clear()
