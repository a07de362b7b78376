"""The guide's stacks (`cloud/stacks`): `CustomStack`, one per region of the app."""

from stacks.custom_stack import CustomStack

__all__ = ["CustomStack"]
