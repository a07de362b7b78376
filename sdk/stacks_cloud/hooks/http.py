"""`warm_up` (GET the app's endpoints after a deploy) and `notify_slack` (post to an incoming webhook)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stacks_cloud.config import FromEnv
from stacks_cloud.core.secrets import redact_text
from stacks_cloud.hooks._common import Secret, Setting, reveal, setting, split
from stacks_cloud.hooks.base import Hook


@dataclass(frozen=True)
class EndpointResult:
    """How one endpoint answered: final `status` (None: no answer), `attempts`, `seconds` of the last try."""

    url: str
    status: int | None
    attempts: int
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400


def _get(url: str, timeout: float) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": "stacks-cloud-warm-up"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _fetch(url: str, timeout: float, retries: int, backoff: float) -> EndpointResult:
    attempts = 0
    while True:
        attempts += 1
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            status = _get(url, timeout)
        except TimeoutError:
            error = f"timed out after {timeout:g} s"
        except (urllib.error.URLError, OSError) as failure:
            reason = getattr(failure, "reason", failure)
            error = "timed out" if isinstance(reason, TimeoutError) else f"{type(reason).__name__}: {reason}"
        seconds = time.monotonic() - started
        retryable = status is None or status >= 500
        if not retryable or attempts > retries:
            return EndpointResult(url, status, attempts, seconds, error)
        time.sleep(backoff * attempts)


def _no_base_url(base_url: Setting | None) -> str:
    if isinstance(base_url, FromEnv):
        return (
            f"no base URL: base_url reads {base_url.name}, which is not set. Set it, or leave base_url out to use"
            " the deployment's url."
        )
    if base_url is not None:
        return "no base URL: base_url gave nothing. Give it a URL, or leave it out to use the deployment's url."
    return "no base URL: this deployment has no url (its stacks output none). Pass base_url=..."


def warm_up(
    endpoints: Sequence[str] = ("/api/health",),
    *,
    base_url: Setting | None = None,
    timeout: float = 5,
    retries: int = 2,
    backoff: float = 0.5,
    concurrency: int = 8,
    name: str = "warm_up",
) -> Hook:
    """GET every endpoint concurrently (5xx and network errors retried `retries` times with backoff).

    The base is the deployment's `url` unless `base_url` is given. Each endpoint's status and
    latency are logged; the hook fails naming the endpoints that never answered 2xx/3xx.
    The results are on `context.warm_up` afterwards.
    """

    async def run(*args: Any) -> list[EndpointResult]:
        _, context = split(args)
        base = setting(base_url, context) if base_url is not None else context.url
        if not base:
            raise RuntimeError(_no_base_url(base_url))
        limit = asyncio.Semaphore(concurrency)

        async def one(endpoint: str) -> EndpointResult:
            async with limit:
                url = base.rstrip("/") + "/" + endpoint.lstrip("/")
                return await asyncio.to_thread(_fetch, url, timeout, retries, backoff)

        results = await asyncio.gather(*(one(endpoint) for endpoint in endpoints))
        for result in results:
            context.logger.info(
                "warm-up %s -> %s in %.0f ms (%d attempt%s)%s",
                result.url,
                result.status if result.status is not None else "no answer",
                result.seconds * 1000,
                result.attempts,
                "" if result.attempts == 1 else "s",
                f": {result.error}" if result.error else "",
            )
        context.warm_up = list(results)  # type: ignore[attr-defined]
        failed = [r for r in results if not r.ok]
        if failed:
            raise RuntimeError(
                "warm-up failed for "
                + ", ".join(f"{r.url} ({r.status if r.status is not None else r.error})" for r in failed)
            )
        return list(results)

    return Hook(
        run, name=name, timeout=(timeout + backoff * (retries + 1)) * (retries + 1) * max(1, len(endpoints)) + 10
    )


DEFAULT_TEXT = "{outcome_text} {version} to {environment}{error_text}"


def notify_slack(
    webhook_url: Secret,
    *,
    channel: str | None = "#deployments",
    text: str = DEFAULT_TEXT,
    timeout: float = 10,
    name: str = "notify_slack",
) -> Hook:
    """Post `text` to a Slack incoming webhook (JSON `{"channel", "text"}`).

    `text` is a `str.format` template with `version`, `environment`, `deployment_id`, `url`,
    `outcome` ("succeeded" or "failed"), `outcome_text` ("Deployed" / "Failed to deploy"), `error`
    and `error_text` (": <error>" on failure). The default gives the guide's
    "Deployed 1.4.0 to production". The webhook URL is a secret: pass `from_env("SLACK_WEBHOOK_URL")`;
    it is never logged nor put in an error message.
    """

    def run(*args: Any) -> None:
        error, context = split(args)
        url = reveal(webhook_url)
        if not url:
            raise RuntimeError("no Slack webhook URL: set it (e.g. SLACK_WEBHOOK_URL) or remove this hook")
        failed = error is not None
        error_message = redact_text(str(error), [url]) if error is not None else ""
        message = text.format(
            version=context.version,
            environment=context.environment,
            deployment_id=context.deployment_id,
            url=context.url or "",
            outcome="failed" if failed else "succeeded",
            outcome_text="Failed to deploy" if failed else "Deployed",
            error=error_message,
            error_text=f": {error_message}" if failed else "",
        )
        message = redact_text(message)  # a version label or a URL may carry a registered secret
        payload: dict[str, str] = {"text": message}
        if channel:
            payload["channel"] = channel
        request = urllib.request.Request(
            url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as failure:
            raise RuntimeError(f"Slack refused the notification: HTTP {failure.code}") from None
        except (urllib.error.URLError, OSError) as failure:
            reason = getattr(failure, "reason", failure)
            raise RuntimeError(f"could not reach Slack: {redact_text(str(reason), [url])}") from None
        context.logger.info("notified Slack%s: %s", f" {channel}" if channel else "", message)

    async def hook(*args: Any) -> None:
        await asyncio.to_thread(run, *args)

    return Hook(hook, name=name, timeout=timeout * 2, secrets=(webhook_url,))
