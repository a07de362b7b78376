"""The project's config (`AppConfig`: the SDK's `CloudConfig` plus the app's sections): the guide's shape,
camelCase aliases, secrets, and one error listing every problem, in the SDK's sections and the app's."""

from __future__ import annotations

import pytest

from config.cloud import CLOUD, AppConfig, load_config
from stacks_cloud.config import CloudConfig, HooksConfig, MultiRegionConfig, Routing, from_env
from stacks_cloud.core.errors import ConfigError


def validate(**overrides: object) -> AppConfig:
    return AppConfig.model_validate({"appName": "my-app", **overrides})


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {problem.path: problem.render() for problem in error.value.problems}


def test_reference_config_validates_with_guide_defaults() -> None:
    config = load_config()
    assert config.app_name == "my-app"
    assert config.environment == "development"
    assert config.api.memory_size == 512
    assert config.api.timeout.total_seconds() == 30
    assert config.regions == ["us-east-1", "eu-west-1", "ap-southeast-1"]
    assert config.multi_region.routing is Routing.LATENCY
    assert config.multi_region.zone_name == "myapp.com"
    assert config.scheduled_functions[0].schedule == "cron(0 0 * * ? *)"


def test_environment_argument_overrides_config() -> None:
    assert load_config("production").is_production
    assert not load_config("staging").is_production
    assert CLOUD.get("environment") is None  # the reference config leaves the choice to the caller


def test_guide_camel_case_keys_are_accepted() -> None:
    config = validate(
        multiRegion={
            "enabled": True,
            "primaryRegion": "us-east-1",
            "replicaRegions": ["eu-west-1", "ap-southeast-1"],
            "routing": "latency",
            "domainName": "api.myapp.com",
        },
        hooks={"preDeploy": print, "postDeploy": [print, print], "onError": print},
    )
    assert config.multi_region.primary_region == "us-east-1"
    assert config.multi_region.routing is Routing.LATENCY
    assert config.regions == ["us-east-1", "eu-west-1", "ap-southeast-1"]
    assert len(config.hooks.post_deploy) == 2
    assert config.hooks.pre_deploy == [print]


def test_snake_case_keys_are_accepted_too() -> None:
    config = CloudConfig(app_name="my-app", multi_region=MultiRegionConfig(enabled=False))
    assert config.app_name == "my-app"


def test_provider_section_is_validated_and_api_key_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOM_CLOUD_API_KEY", "k-123456")
    config = validate(
        driver="custom",
        providers={"custom": object()},
        custom={"apiKey": from_env("CUSTOM_CLOUD_API_KEY"), "region": "us-east-1", "webhookUrl": "https://h/x"},
    )
    settings = config.provider_settings["custom"]
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "k-123456"
    assert settings.region == "us-east-1"
    assert "k-123456" not in repr(config)
    assert "https://h/x" not in repr(config)


def test_unset_environment_variable_gives_none_like_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOM_CLOUD_API_KEY", raising=False)
    config = validate(
        driver="custom", providers={"custom": object()}, custom={"apiKey": from_env("CUSTOM_CLOUD_API_KEY")}
    )
    assert config.provider_settings["custom"].api_key is None


def test_hooks_must_be_callables() -> None:
    with pytest.raises(ConfigError) as error:
        HooksConfig.model_validate({"preDeploy": ["not callable"]})
    assert error.value.paths == ["pre_deploy.0"]


def test_every_problem_is_reported_at_once_with_field_paths() -> None:
    with pytest.raises(ConfigError) as error:
        AppConfig.model_validate(
            {
                "appName": "My_App",
                "region": "us-est-1",
                "api": {"memorySize": 64, "timeout": 901},
                "scheduledFunctions": [{"name": "Nightly", "schedule": "cron(0 0 * * *)", "handler": "job.handler"}],
                "multiRegion": {"replicaRegions": ["eu-wst-1"]},
            }
        )
    problems = problems_of(error)
    assert set(problems) == {
        "app_name",
        "region",
        "api.memory_size",
        "api.timeout",
        "scheduled_functions.0.schedule",
        "multi_region.replica_regions.0",
    }
    assert "'us-est-1'" in problems["region"]
    assert "us-east-1" in problems["region"]  # the fix names the closest real region
    assert "between 128 and 10240 MB" in problems["api.memory_size"]
    assert "64 was provided" in problems["api.memory_size"]
    assert "900 seconds" in problems["api.timeout"]
    assert "6 fields" in problems["scheduled_functions.0.schedule"]
    assert "Fix: use e.g. 'my-app'" in problems["app_name"]
    assert str(error.value).startswith("Invalid cloud configuration (6 problems):")


@pytest.mark.parametrize("memory", [127, 10241, 0])
def test_memory_outside_lambda_limits_is_rejected(memory: int) -> None:
    with pytest.raises(ConfigError) as error:
        validate(api={"memorySize": memory})
    assert error.value.paths == ["api.memory_size"]


@pytest.mark.parametrize("memory", [128, 10240])
def test_memory_at_lambda_limits_is_accepted(memory: int) -> None:
    assert validate(api={"memorySize": memory}).api.memory_size == memory


@pytest.mark.parametrize(
    "schedule",
    ["cron(0 0 * * ? *)", "cron(15 10 ? * MON-FRI *)", "rate(1 day)", "rate(5 minutes)"],
)
def test_valid_schedules(schedule: str) -> None:
    config = validate(scheduledFunctions=[{"name": "Job", "schedule": schedule, "handler": "job.handler"}])
    assert config.scheduled_functions[0].schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("cron(0 0 * * *)", "6 fields"),
        ("cron(0 0 * * * *)", "exactly one of day-of-month"),
        ("cron(0 0 1 * MON *)", "exactly one of day-of-month"),
        ("rate(1 days)", "singular"),
        ("rate(0 minutes)", "positive"),
        ("every day", "must be 'cron(...)'"),
    ],
)
def test_invalid_schedules_explain_the_rule(schedule: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(scheduledFunctions=[{"name": "Job", "schedule": schedule, "handler": "job.handler"}])
    assert reason in str(error.value)
    assert error.value.paths == ["scheduled_functions.0.schedule"]


@pytest.mark.parametrize("app_name", ["My-App", "app_name", "-app", "app-", "a--b", "1app", "my app"])
def test_app_names_that_cannot_form_resource_names(app_name: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(appName=app_name)
    assert error.value.paths == ["app_name"]


def test_app_name_too_long_for_the_derived_bucket_name() -> None:
    name = "a" * 40
    with pytest.raises(ConfigError) as error:
        validate(appName=name, environment="production-eu-west")
    rendered = str(error.value)
    assert "S3 bucket name" in rendered
    assert "63 characters" in rendered


def test_unknown_keys_are_rejected_with_a_hint() -> None:
    with pytest.raises(ConfigError) as error:
        validate(multiregion={"enabled": True})
    assert error.value.paths == ["multiregion"]
    assert "did you mean 'multiRegion'" in str(error.value)


def test_secrets_never_appear_in_error_messages() -> None:
    with pytest.raises(ConfigError) as error:
        validate(custom={"apiKey": "sk-live-do-not-print", "nested": {"password": "hunter2"}})
    assert "sk-live-do-not-print" not in str(error.value)
    assert "hunter2" not in str(error.value)


def test_multi_region_rules() -> None:
    with pytest.raises(ConfigError) as error:
        validate(multiRegion={"enabled": True, "replicaRegions": ["eu-west-1", "eu-west-1"]})
    assert set(error.value.paths) == {"multi_region.primary_region", "multi_region.replica_regions.1"}
    with pytest.raises(ConfigError) as error:
        validate(
            multiRegion={
                "enabled": True,
                "primaryRegion": "us-east-1",
                "replicaRegions": ["us-east-1"],
                "domainName": "api.myapp.com",
            }
        )
    assert error.value.paths == ["multi_region.replica_regions"]


def test_the_guides_multi_region_config_as_written_deploys_regions_with_a_warning() -> None:
    guide = {"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1", "ap-southeast-1"]}
    config = validate(multiRegion={**guide, "routing": "latency"})
    assert config.regions == ["us-east-1", "eu-west-1", "ap-southeast-1"]
    assert not config.multi_region.routed
    (warning,) = config.warnings
    assert "routing needs `domainName`" in warning
    assert validate(multiRegion={**guide, "domainName": "api.myapp.com"}).warnings == []


def test_config_is_immutable() -> None:
    config = validate()
    with pytest.raises(ValueError, match="frozen"):
        config.app_name = "other"  # type: ignore[misc]


# --- multi-region routing and DNS --------------------------------------------------------------------------

ENABLED = {"enabled": True, "primaryRegion": "us-east-1", "domainName": "api.myapp.com"}


def test_one_error_lists_field_and_cross_field_problems_together() -> None:
    with pytest.raises(ConfigError) as error:
        validate(
            multiRegion={
                **ENABLED,
                "replicaRegions": ["eu-west-1", "eu-west-1", "eu-wst-2"],
                "routing": "weighted",
                "weights": {"us-east-1": -5, "eu-west-1": 10, "sa-east-1": 3},
            }
        )
    assert error.value.paths == [
        "multi_region.replica_regions.2",  # not a region (botocore's list)
        "multi_region.weights.us-east-1",  # negative
        "multi_region.weights.sa-east-1",  # a region the app does not run in
    ]
    message = str(error.value)
    assert "'eu-wst-2': is not an AWS region" in message
    assert "did you mean 'eu-west-2'" in message


def test_weighted_routing_needs_a_weight_for_every_region() -> None:
    with pytest.raises(ConfigError) as error:
        validate(
            multiRegion={**ENABLED, "replicaRegions": ["eu-west-1", "ap-southeast-1"], "routing": "weighted"},
        )
    assert error.value.paths == ["multi_region.weights"]
    assert "has no weight for us-east-1, eu-west-1, ap-southeast-1" in str(error.value)
    with pytest.raises(ConfigError) as error:
        validate(multiRegion={**ENABLED, "routing": "weighted", "weights": {"us-east-1": 256}})
    assert error.value.paths == ["multi_region.weights.us-east-1"]


def test_weights_and_locations_only_with_their_routing() -> None:
    with pytest.raises(ConfigError) as error:
        validate(multiRegion={**ENABLED, "weights": {"us-east-1": 1}, "geolocation": {"us-east-1": "US"}})
    assert error.value.paths == ["multi_region.weights", "multi_region.geolocation"]


def test_geolocation_codes_are_checked() -> None:
    with pytest.raises(ConfigError) as error:
        validate(
            multiRegion={
                **ENABLED,
                "replicaRegions": ["eu-west-1", "ap-southeast-1"],
                "routing": "geolocation",
                "geolocation": {
                    "eu-west-1": ["UK", "continent:EU"],
                    "ap-southeast-1": [{"continent": "XX"}, {"continent": "AS", "country": "JP"}],
                },
            }
        )
    assert error.value.paths == [
        "multi_region.geolocation.eu-west-1.0.country",
        "multi_region.geolocation.ap-southeast-1.0.continent",
        "multi_region.geolocation.ap-southeast-1.1",
    ]
    message = str(error.value)
    assert "the United Kingdom is 'GB'" in message
    assert "needs exactly one of continent and country" in message


def test_geolocation_every_region_reachable_and_locations_unique() -> None:
    with pytest.raises(ConfigError) as error:
        validate(
            multiRegion={
                **ENABLED,
                "replicaRegions": ["eu-west-1", "ap-southeast-1"],
                "routing": "geolocation",
                "geolocation": {"eu-west-1": {"continent": "EU"}, "us-east-1": "continent:EU"},
                "defaultRegion": "sa-east-1",
            }
        )
    assert error.value.paths == [
        "multi_region.geolocation",  # ap-southeast-1 would get no users
        "multi_region.default_region",  # not one of the app's regions
        "multi_region.geolocation.us-east-1.0",  # EU is routed twice
    ]
    config = validate(
        multiRegion={
            **ENABLED,
            "replicaRegions": ["eu-west-1"],
            "routing": "geolocation",
            "geolocation": {"eu-west-1": ["continent:eu", "gb"]},
        }
    )
    assert [loc.label for loc in config.multi_region.geolocation["eu-west-1"]] == ["continent-EU", "country-GB"]
    assert config.multi_region.fallback_region == "us-east-1"  # the primary takes everyone else


def test_domain_must_be_inside_the_hosted_zone() -> None:
    with pytest.raises(ConfigError) as error:
        validate(multiRegion={**ENABLED, "hostedZone": "other.com"})
    assert error.value.paths == ["multi_region.hosted_zone"]
    with pytest.raises(ConfigError) as error:
        validate(multiRegion={**ENABLED, "domainName": "API_.myapp.com"})
    assert error.value.paths == ["multi_region.domain_name"]
    assert validate(multiRegion=ENABLED).multi_region.zone_name == "myapp.com"


# --- state backends ----------------------------------------------------------------------------------------


def test_state_backend_settings_are_required_and_checked() -> None:
    with pytest.raises(ConfigError) as error:
        validate(state={"backend": "s3"})
    assert error.value.paths == ["state.s3"]
    with pytest.raises(ConfigError) as error:
        validate(state={"backend": "cloud"})
    assert error.value.paths == ["state.cloud"]
    with pytest.raises(ConfigError) as error:
        validate(
            state={"backend": "s3", "s3": {"bucket": "acme-tfstate", "region": "us-east-1", "locking": "dynamodb"}}
        )
    assert error.value.paths == ["state.s3.dynamodb_table"]
    with pytest.raises(ConfigError) as error:
        validate(state={"backend": "s3", "s3": {"bucket": "Acme_State", "region": "us-east-1"}})
    assert error.value.paths == ["state.s3.bucket"]
    with pytest.raises(ConfigError) as error:
        validate(state={"localDir": "cdktf.out/state"})
    assert error.value.paths == ["state.local_dir"]
    with pytest.raises(ConfigError) as error:
        validate(state={"backend": "etcd"})
    assert error.value.paths == ["state.backend"]


def test_aws_section_is_typed() -> None:
    config = validate(aws={"endpoint": "http://127.0.0.1:5000", "skipAwsChecks": True})
    assert config.aws.endpoint == "http://127.0.0.1:5000"
    with pytest.raises(ConfigError) as error:
        validate(aws={"endpoint": "127.0.0.1:5000", "edpoint": "x"})
    assert sorted(error.value.paths) == ["aws.edpoint", "aws.endpoint"]


def test_names_carry_the_region_and_are_checked_per_region() -> None:
    with pytest.raises(ConfigError) as error:
        validate(
            appName="a-rather-long-application-name",
            environment="integration",
            multiRegion={**ENABLED, "replicaRegions": ["ap-southeast-1"]},
        )
    assert "my-app" not in str(error.value)
    assert "a-rather-long-application-name-integration-assets-ap-southeast-1" in str(error.value)


def test_partial_check_does_not_touch_the_callers_data() -> None:
    data = {
        "appName": "my-app",
        "multiRegion": {**ENABLED, "replicaRegions": ["mars-1", "eu-west-1", "venus-2"], "routing": "weighted"},
    }
    original = repr(data)
    with pytest.raises(ConfigError) as error:
        CloudConfig.model_validate(data)
    assert repr(data) == original
    # Both bad items reported; the weights rule still ran on what is valid.
    assert error.value.paths == [
        "multi_region.replica_regions.0",
        "multi_region.replica_regions.2",
        "multi_region.weights",
    ]
    assert "has no weight for us-east-1, eu-west-1:" in str(error.value)
