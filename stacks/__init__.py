"""Stacks composed from constructs and the config: `CustomStack` per region, `GlobalStack`, and `build_app`."""

from stacks.app import build_app, global_stack_name, regional_stack_name, stack_names
from stacks.custom_stack import CustomStack, CustomStackProps, RegionalDomain
from stacks.global_stack import GlobalStack, GlobalStackProps, RegionalEndpoint

__all__ = [
    "CustomStack",
    "CustomStackProps",
    "GlobalStack",
    "GlobalStackProps",
    "RegionalDomain",
    "RegionalEndpoint",
    "build_app",
    "global_stack_name",
    "regional_stack_name",
    "stack_names",
]
