"""The guide's `CustomCloudProvider` (`cloud/providers/custom-provider.ts`), runnable.

The "custom cloud" is any deployment service with an HTTP API; this one speaks a small JSON one:

    PUT    {endpoint}/deployments/{id}   {"app", "environment", "version", "region"} -> {"id", "url"}
    GET    {endpoint}/deployments/{id}   -> {"status": "running", "health": "healthy"}
    DELETE {endpoint}/deployments/{id}   -> 204

every request with `Authorization: Bearer <apiKey>`. Register it as the guide does in
`config/cloud.ts` (`providers: {custom: ...}`, `custom: {apiKey, region}`), plus the API's
`endpoint`, and choose it with `driver: "custom"`.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any, ClassVar

from pydantic import BaseModel, SecretStr

from stacks_cloud import (
    CloudProvider,
    CloudProviderError,
    DeploymentConfig,
    DeploymentResult,
    DeploymentStatus,
    InfrastructureError,
    Model,
)
from stacks_cloud.config import HttpEndpoint
from stacks_cloud.core.types import Region


class CustomSettings(Model):
    """The `custom` section of the config (the guide's `custom: { apiKey, region }`)."""

    api_key: SecretStr
    """The API key, e.g. `from_env("CUSTOM_CLOUD_API_KEY")`; sent as a bearer token, never logged."""
    region: Region = "us-east-1"
    endpoint: HttpEndpoint = "https://api.custom-cloud.com"
    """The custom cloud's API. Default: https://api.custom-cloud.com."""
    timeout: float = 30.0
    """Seconds per request. Default: 30."""


class CustomCloudProvider(CloudProvider):
    name: ClassVar[str] = "custom"
    settings_model: ClassVar[type[BaseModel] | None] = CustomSettings

    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        # Implementation for custom deployment
        resources = await self.create_resources(config)
        return DeploymentResult(success=True, url=resources["url"], deployment_id=resources["id"])

    async def destroy(self, deployment_id: str) -> bool:
        # Implementation for destroying resources
        await self._call("DELETE", f"/deployments/{deployment_id}")
        return True

    async def get_status(self, deployment_id: str) -> DeploymentStatus:
        # Implementation for getting deployment status
        found = await self._call("GET", f"/deployments/{deployment_id}")
        return DeploymentStatus(status=found.get("status", "running"), health=found.get("health", "unknown"))

    async def create_resources(self, config: DeploymentConfig) -> dict[str, str]:
        # Custom resource creation logic
        settings = self.settings()
        created = await self._call(
            "PUT",
            f"/deployments/{config.deployment_id}",
            {
                "app": config.app_name,
                "environment": config.environment,
                "version": config.version,
                "region": settings.region,
            },
        )
        return {"id": str(created["id"]), "url": str(created["url"])}

    # --- the HTTP client ------------------------------------------------------------------------------

    def settings(self) -> CustomSettings:
        section = self.runtime.cloud.provider_settings.get(self.name)
        if section is None:
            raise CloudProviderError("the config has no `custom` section (apiKey, endpoint)", provider=self.name)
        return CustomSettings.model_validate(section.model_dump(exclude_none=True))

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        settings = self.settings()
        return await asyncio.to_thread(_request, settings, method, path, body, self.name)


def _request(
    settings: CustomSettings, method: str, path: str, body: dict[str, Any] | None, provider: str
) -> dict[str, Any]:
    url = settings.endpoint.rstrip("/") + path
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {settings.api_key.get_secret_value()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            text = response.read().decode() or "{}"
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise CloudProviderError(
                f"{method} {path} was refused (HTTP {error.code}): check the apiKey", provider=provider
            ) from None
        if error.code == 409:
            raise InfrastructureError(f"{method} {path}: the custom cloud reports a conflict (HTTP 409)") from None
        raise CloudProviderError(f"{method} {path} failed: HTTP {error.code}", provider=provider) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CloudProviderError(f"could not reach {settings.endpoint}: {reason}", provider=provider) from None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise CloudProviderError(f"{method} {path} answered {type(data).__name__}, not an object", provider=provider)
    return data
