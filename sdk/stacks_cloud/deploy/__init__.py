"""The deploy engine: the `Cloud` API (`orchestrator`), a deployment's steps (`session`), the environment
lock, the policy gate step, rollback targets, saved plans, project discovery, the `cloud` CLI.

Imported by entry points and tests; everything else reaches it through `stacks_cloud.Cloud`. Where
history and locks are kept is the state backend's (`stacks_cloud.state`).
"""
