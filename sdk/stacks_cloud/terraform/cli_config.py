"""Terraform CLI configuration: use a local provider mirror when there is one, the registry otherwise.

An offline machine can only `terraform init` through a `filesystem_mirror`. The mirror is
configured (`TF_PROVIDER_MIRROR`), or discovered among Terraform's own implicit mirror folders and
image-provided ones; with none found, Terraform uses the public registry as usual.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

MIRROR_ENV = "TF_PROVIDER_MIRROR"
"""Set to a filesystem mirror folder (holding `registry.terraform.io/...`) to use it explicitly."""


def _candidate_mirrors() -> Iterable[Path]:
    home = Path.home()
    xdg_data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    # Terraform's implicit local mirror folders on Unix, then folders machine images use.
    yield home / ".terraform.d" / "plugins"
    yield xdg_data / "terraform" / "plugins"
    yield Path("/usr/local/share/terraform/plugins")
    yield Path("/usr/share/terraform/plugins")
    opt = Path("/opt")
    if opt.is_dir():
        yield from sorted(opt.glob("*plugins*"))


def _is_mirror(path: Path) -> bool:
    return (path / "registry.terraform.io").is_dir()


def discover_provider_mirror() -> Path | None:
    """The provider mirror to use: `TF_PROVIDER_MIRROR` if set (must be valid), else the first found."""
    explicit = os.environ.get(MIRROR_ENV)
    if explicit:
        path = Path(explicit)
        if not _is_mirror(path):
            raise ValueError(
                f"{MIRROR_ENV}={explicit!r} is not a provider mirror (no registry.terraform.io folder inside)."
                f" Fix: point it at the folder holding registry.terraform.io/, or unset it to use the registry."
            )
        return path
    return next((path for path in _candidate_mirrors() if _is_mirror(path)), None)


def write_cli_config(target: Path, *, mirror: Path | None, plugin_cache: Path | None = None) -> Path:
    """Write a Terraform CLI config to `target`: the mirror for what it holds, the registry for the rest."""
    lines = []
    if plugin_cache is not None:
        plugin_cache.mkdir(parents=True, exist_ok=True)
        lines.append(f'plugin_cache_dir = "{plugin_cache}"')
    if mirror is not None:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            "  }",
            "}",
        ]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(target)
    return target


def uses_mirror(config: Path) -> bool:
    """Whether the CLI config at `config` installs providers from a filesystem mirror."""
    try:
        return "filesystem_mirror" in config.read_text()
    except OSError:
        return False


def terraform_env(
    config_dir: Path, base: dict[str, str] | None = None, *, plugin_cache: Path | None = None
) -> dict[str, str]:
    """Environment for running terraform non-interactively with this project's CLI config (written to
    `config_dir/terraform.tfrc`), and `plugin_cache` as the provider cache the stacks share.

    Respects a `TF_CLI_CONFIG_FILE` that points at an existing file (the user's own config).
    """
    env = dict(os.environ if base is None else base)
    if plugin_cache is not None:
        plugin_cache.mkdir(parents=True, exist_ok=True)
        env["TF_PLUGIN_CACHE_DIR"] = str(plugin_cache)
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    existing = env.get("TF_CLI_CONFIG_FILE")
    if not (existing and Path(existing).is_file()):
        env["TF_CLI_CONFIG_FILE"] = str(
            write_cli_config(config_dir / "terraform.tfrc", mirror=discover_provider_mirror())
        )
    return env
