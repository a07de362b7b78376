"""Multi-region machinery: a regional stack per region (provider and backend), the global routing stack,
and building an app from a config and the project's stack class (`build_app`, `CloudApp`)."""

from stacks_cloud.stacks.app import (
    CloudApp,
    build_app,
    global_stack_name,
    regional_stack_name,
    routed_domain,
    stack_names,
)
from stacks_cloud.stacks.global_stack import GlobalStack, GlobalStackProps, RegionalEndpoint
from stacks_cloud.stacks.regional import RegionalDomain, RegionalStack, RegionalStackProps

__all__ = [
    "CloudApp",
    "GlobalStack",
    "GlobalStackProps",
    "RegionalDomain",
    "RegionalEndpoint",
    "RegionalStack",
    "RegionalStackProps",
    "build_app",
    "global_stack_name",
    "regional_stack_name",
    "routed_domain",
    "stack_names",
]
