"""`python -m stacks_cloud ...`: the same CLI as `cloud ...`."""

import sys

from stacks_cloud.deploy.cli import main

sys.exit(main())
