"""The deploy engine: the `Cloud` orchestrator, the deployment ledger, project discovery, the `cloud` CLI.

Imported by entry points and tests; everything else reaches it through `stacks_cloud.Cloud`.
"""
