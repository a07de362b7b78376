"""The guide's `preDeployHook`: validate the configuration, back up the current data, run migrations.

The guide runs migrations first and backs up last; here the environment is checked first (a
migration needs DATABASE_URL) and the backup is taken before migrations change the data.
"""

from __future__ import annotations

from stacks_cloud import DeploymentContext, Phase, hook
from stacks_cloud.hooks import Migration, create_backup, run_migrations, run_phase, validate_env


def get_pending_migrations() -> list[Migration]:
    """The guide's `getPendingMigrations()`: the reference app has no database schema yet.

    Return your migrations here (`Migration(name, up)`), or use `run_migrations(command=[...])`
    with your framework's migrate command.
    """
    return []


def app_table(context: DeploymentContext) -> str:
    """The app's DynamoDB table, as `CustomStack` names it: `<app>-<env>`."""
    return f"{context.app_name}-{context.environment}"


validate_config = validate_env(["DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID"], name="validate_config")
create_backup_ = create_backup(table=app_table)  # in every region, named after the deployment
run_migrations_ = run_migrations(migrations=get_pending_migrations)


@hook(timeout=None)  # each step below has its own timeout
async def pre_deploy_hook(context: DeploymentContext) -> None:
    context.logger.info("Running pre-deployment checks...")
    await run_phase(
        Phase.PRE_DEPLOY,
        [validate_config, create_backup_, run_migrations_],
        context,
        environment=context.environment,
        logger=context.logger,
    )
    context.logger.info("Pre-deployment checks complete")
