"""The cdktf app (`cdktf synth` runs this; the `cloud` CLI imports it): the guide's `cloud/app.ts`.

The environment comes from the cdktf context (`"context": {"environment": "production"}` in
cdktf.json), else the `APP_ENV` environment variable (`APP_ENV=production cdktf synth`), else the
config, else `development`.
"""

from __future__ import annotations

import sys

from config.cloud import CLOUD, AppConfig
from stacks.custom_stack import CustomStack
from stacks_cloud import CloudApp

app = CloudApp(config=CLOUD, config_class=AppConfig, stack=CustomStack)

if __name__ == "__main__":
    sys.exit(app.main())
