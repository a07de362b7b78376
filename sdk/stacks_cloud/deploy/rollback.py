"""What a rollback goes back to, read from the ledger's history of an environment."""

from __future__ import annotations

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import ConfigError, InfrastructureError, Problem
from stacks_cloud.models import DeploymentRecord, State
from stacks_cloud.state import Ledger


def destroyed_last(ledger: Ledger, config: CloudConfig) -> bool:
    """Whether the environment's last settled deployment was destroyed (nothing live since)."""
    for record in ledger.history(config.app_name, config.environment, limit=1000):
        if record.status == State.DESTROYED:
            return True
        if record.completed:
            return False
    return False


def rollback_target(ledger: Ledger, config: CloudConfig, *, recreate: bool) -> tuple[DeploymentRecord, str | None]:
    """(the deployment to deploy again, the deployment it replaces).

    When the newest deployment failed or was interrupted, that is the live one (restoring what it may
    have half-changed); when the newest is the live one, the completed deployment before it. After a
    destroy nothing is live: refused unless `recreate`, which deploys the destroyed deployment again.
    """
    history = ledger.history(config.app_name, config.environment, limit=1000)
    live = ledger.live(config.app_name, config.environment)
    if live is None:
        destroyed = next((record for record in history if record.status == State.DESTROYED), None)
        if destroyed is not None and not recreate:
            raise ConfigError(
                "command line",
                [
                    Problem(
                        "rollback",
                        destroyed.id,
                        f"the environment was destroyed ({destroyed.id}, version {destroyed.version}) and nothing is"
                        " live: a rollback would create everything again.",
                        "pass --recreate to deploy that version again, or deploy a new version.",
                    )
                ],
            )
        if destroyed is not None:
            return destroyed, None
        raise InfrastructureError(f"nothing to roll back to: no deployment of {config.environment} completed")
    if history and history[0].id != live.id:
        return live, history[0].id  # the newest failed or was interrupted: restore what is live
    earlier = next((record for record in history[1:] if record.completed), None)
    if earlier is None:
        raise InfrastructureError(f"nothing to roll back to: {live.id} is the only deployment of {config.environment}")
    return earlier, live.id


def destroy_target(ledger: Ledger, config: CloudConfig) -> str:
    """The deployment a destroy removes: the newest not destroyed whose synth is archived."""
    app, environment = config.app_name, config.environment
    candidates = [
        record
        for record in ledger.history(app, environment, limit=1000)
        if record.status != State.DESTROYED and (record.has_archive or not record.stacks)
    ]
    if not candidates or (ledger.live(app, environment) is None and destroyed_last(ledger, config)):
        raise InfrastructureError(f"nothing to destroy: no deployment of {environment} in {ledger.location} is live")
    return candidates[0].id
