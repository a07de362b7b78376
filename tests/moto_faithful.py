"""`moto_server`, with three answers made as AWS gives them. Run as `python -m tests.moto_faithful -H HOST -p PORT`.

moto 5.2.5 differs from AWS in three answers the reference app's stacks read back after every apply, so
that a plan right after a deploy shows changes that real AWS never shows, or a read fails:

- SQS `GetQueueAttributes` returns `RedrivePolicy` as `json.dumps` writes it, with spaces after `:`
  and `,`; AWS returns compact JSON, and the AWS provider compares the strings (hashicorp/terraform-
  provider-aws#16964, localstack/localstack#3427). Here: compact, as AWS.
- S3 `GetBucketNotificationConfiguration` leaves out `EventBridgeConfiguration` although
  `PutBucketNotificationConfiguration` stored it (moto's own model keeps it). Here: included, as AWS.
- RDS gives every DB instance the same `DbiResourceId` (`db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U`). The AWS
  provider reads an instance back by that id (filter `dbi-resource-id`), so with two instances in one
  region (two tests sharing one server) the read after create finds two and fails with "couldn't find
  resource". Here: a unique id per instance, as AWS.

Nothing else changes: every other answer is moto's.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any


def _patch_sqs() -> None:
    from moto.sqs import models

    class _CompactJson:
        """`json` for moto's SQS model: `dumps` writes compact JSON, as AWS returns attribute documents."""

        def __getattr__(self, name: str) -> Any:
            return getattr(json, name)

        @staticmethod
        def dumps(value: Any, **options: Any) -> str:
            options.setdefault("separators", (",", ":"))
            return json.dumps(value, **options)

    models.json = _CompactJson()  # type: ignore[attr-defined,assignment]


def _patch_s3() -> None:
    from moto.s3 import responses

    original = responses.S3Response.get_bucket_notification

    def get_bucket_notification(self: Any) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        answer = original(self)
        if configuration is None or configuration.event_bridge is None:
            return answer
        body = answer if isinstance(answer, str | bytes) else answer[2]
        text = body.decode() if isinstance(body, bytes) else body
        if "EventBridgeConfiguration" not in text:
            event_bridge = "<EventBridgeConfiguration></EventBridgeConfiguration>"
            if "</NotificationConfiguration>" in text:
                text = text.replace("</NotificationConfiguration>", f"{event_bridge}</NotificationConfiguration>")
            else:  # moto answered with an empty element: <NotificationConfiguration xmlns="..."/>
                text = re.sub(
                    r"<NotificationConfiguration([^>]*)/>",
                    lambda m: f"<NotificationConfiguration{m[1]}>{event_bridge}</NotificationConfiguration>",
                    text,
                )
        if isinstance(answer, str | bytes):
            return text
        status, headers, _ = answer
        return status, headers, text

    responses.S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]


def _patch_rds() -> None:
    import secrets
    import string

    from moto.rds import models

    original = models.DBInstance.__init__
    alphabet = string.ascii_uppercase + string.digits

    def init_with_a_unique_id(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.dbi_resource_id = "db-" + "".join(secrets.choice(alphabet) for _ in range(26))

    models.DBInstance.__init__ = init_with_a_unique_id  # type: ignore[method-assign]


def main() -> None:
    _patch_sqs()
    _patch_s3()
    _patch_rds()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
