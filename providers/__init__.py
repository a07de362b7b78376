"""The guide's custom providers (`cloud/providers`)."""

from providers.custom_provider import CustomCloudProvider, CustomSettings

__all__ = ["CustomCloudProvider", "CustomSettings"]
