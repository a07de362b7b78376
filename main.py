"""The cdktf app (`cdktf synth` runs this): config -> stacks -> Terraform JSON in cdktf.out/.

Like the guide's `cloud/app.ts`, the environment comes from the cdktf context (`"context":
{"environment": "production"}` in cdktf.json), else from the `APP_ENV` environment variable
(`APP_ENV=production cdktf synth`), else the config, else `development`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from cdk import App
from config.cloud import load_config
from core.errors import ConfigError
from stacks import build_app


def main() -> int:
    app = App()
    environment = app.node.try_get_context("environment") or os.environ.get("APP_ENV") or None
    try:
        build_app(load_config(environment), app=app)
    except ConfigError as error:
        print(error, file=sys.stderr)
        _remove_empty_outdir(Path(app.outdir))
        return 2
    app.synth()
    return 0


def _remove_empty_outdir(outdir: Path) -> None:
    """`App()` creates `<outdir>/stacks` up front; leave nothing behind when synth never ran."""
    for folder in (outdir / "stacks", outdir):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty: earlier synth output is kept


if __name__ == "__main__":
    sys.exit(main())
