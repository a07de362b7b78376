"""Stacks composed from constructs and the config: `CustomStack` (the guide's), and `build_app`."""

from stacks.app import build_app, regional_stack_name
from stacks.custom_stack import CustomStack, CustomStackProps

__all__ = ["CustomStack", "CustomStackProps", "build_app", "regional_stack_name"]
