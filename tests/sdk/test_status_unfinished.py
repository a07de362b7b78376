"""`cloud status` after a deployment that applied stacks and then failed: what is in the cloud, what next."""

from __future__ import annotations

from dataclasses import replace

from stacks_cloud.config import CloudConfig
from stacks_cloud.deploy.cli import _render_status
from stacks_cloud.deploy.orchestrator import unfinished_deployment
from stacks_cloud.models import DeploymentRecord, DeploymentStatus, State

FAILED = DeploymentRecord(
    id="development-2",
    app="shop",
    environment="development",
    version="v2",
    provider="aws",
    config_hash="h",
    status="failed",
    url=None,
    error="post_deploy hook 'smoke_test' failed: smoke test failed\nmore",
    rollback_of=None,
    started_at=2.0,
    finished_at=3.0,
    has_archive=True,
    stacks={
        "shop-development-us-east-1": {"status": "deployed", "outputs": {"ApiUrl": "https://u"}},
        "shop-development-eu-west-1": {"status": "failed", "outputs": {}},
        "shop-development-global": {"status": "waiting", "outputs": {}},
    },
)
LIVE = replace(FAILED, id="development-1", version="v1", status="running", error=None)


def test_a_failed_deployment_that_applied_stacks_is_reported_with_the_next_step() -> None:
    unfinished = unfinished_deployment([FAILED], None, [])
    assert unfinished is not None
    assert list(unfinished.applied) == ["shop-development-us-east-1", "shop-development-eu-west-1"]
    assert unfinished.applied["shop-development-us-east-1"]["outputs"] == {"ApiUrl": "https://u"}
    assert "`cloud deploy` completes it" in unfinished.next_step
    assert "`cloud destroy` removes them" in unfinished.next_step
    with_live = unfinished_deployment([FAILED], LIVE, [])
    assert with_live is not None
    assert "`cloud rollback` re-deploys development-1 (version v1)" in with_live.next_step

    config = CloudConfig.model_validate({"appName": "shop"})
    text = _render_status(config, DeploymentStatus(status=State.PENDING, unfinished=unfinished), [])
    assert text.splitlines()[:5] == [
        "shop development: pending, health unknown (nothing live)",
        "  in the cloud from failed deployment development-2 (version v2), applied although it did not complete:",
        "    shop-development-us-east-1: deployed (ApiUrl = https://u)",
        "    shop-development-eu-west-1: failed",
        "    why it stopped: post_deploy hook 'smoke_test' failed: smoke test failed",
    ]


def test_nothing_unfinished_when_the_newest_completed_is_running_or_applied_nothing() -> None:
    assert unfinished_deployment([LIVE], LIVE, []) is None
    assert unfinished_deployment([FAILED], None, ["development-2"]) is None  # still running: status says so
    nothing = replace(FAILED, stacks={"s": {"status": "waiting", "outputs": {}}})
    assert unfinished_deployment([nothing], None, []) is None
    assert unfinished_deployment([], None, []) is None
