"""The offline engine records what the real engine would receive, and refuses what it would not run."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest

from tools.engine import SECRET_VALUE, SIG_KEY, EngineError, Run
from tools.render import redact, run_json

REGION = {"aws:region": "ca-central-1"}


def provider(region: str = "ca-central-1", tags: dict[str, str] | None = None) -> aws.Provider:
    return aws.Provider(
        "aws", region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags or {"owner": "team", "project": "p"})
    )


class Bucketish(pulumi.ComponentResource):
    """A tiny component used to exercise the engine."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None, bad_string: bool = False) -> None:
        super().__init__("test:index:Bucketish", name, None, opts)
        key = aws.kms.Key(f"{name}-key", enable_key_rotation=True, opts=pulumi.ResourceOptions(parent=self))
        description = f"key {key.arn}" if bad_string else key.arn.apply(lambda arn: f"key {arn}")
        self.group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/test/{name}",
            kms_key_id=key.arn,
            tags={"purpose": description, "owner": "override"},
            opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["retentionInDays"]),
        )
        self.register_outputs({"group_arn": self.group.arn})


def test_an_output_formatted_into_a_string_fails_the_run(build: Callable[..., Run]) -> None:
    def program() -> None:
        Bucketish("b", opts=pulumi.ResourceOptions(provider=provider()), bad_string=True)

    with pytest.raises(EngineError, match="an Output was used as a string"):
        build(program)


def test_a_logged_warning_fails_the_run(build: Callable[..., Run]) -> None:
    def program() -> None:
        pulumi.log.warn("something the real engine would show")

    with pytest.raises(EngineError, match="something the real engine would show"):
        build(program)


def test_a_data_source_without_an_answer_fails_the_run(build: Callable[..., Run]) -> None:
    def program() -> None:
        p = provider()
        aws.ec2.get_vpc_output(default=True, opts=pulumi.InvokeOutputOptions(provider=p)).id.apply(lambda _: None)

    with pytest.raises(EngineError, match="no answer for data source aws:ec2/getVpc:getVpc"):
        build(program)


def test_update_mode_fills_ids_arns_in_the_provider_region_and_tags_all(build: Callable[..., Run]) -> None:
    run = build(lambda: Bucketish("b", opts=pulumi.ResourceOptions(provider=provider("ca-west-1"))))
    (key,) = run.by_type("aws:kms/key:Key")
    assert key.outputs["arn"] == f"arn:aws:kms:ca-west-1:123456789012:key/{key.outputs['id']}"
    (group,) = run.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert group.outputs["arn"] == "arn:aws:logs:ca-west-1:123456789012:log-group:/test/b"
    # The resource's own tag wins over the provider default, as in the AWS provider.
    assert group.outputs["tagsAll"] == {"owner": "override", "project": "p", "purpose": f"key {key.outputs['arn']}"}


def test_preview_mode_leaves_computed_values_unknown(build: Callable[..., Run]) -> None:
    run = build(lambda: Bucketish("b", opts=pulumi.ResourceOptions(provider=provider())), mode="preview")
    (group,) = run.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["kmsKeyId"] == "[unknown]"
    assert group.inputs["name"] == "/test/b"
    assert run.named("b").outputs == {"group_arn": "[unknown]"}


def test_records_parent_dependencies_provider_and_options(build: Callable[..., Run]) -> None:
    run = build(lambda: Bucketish("b", opts=pulumi.ResourceOptions(provider=provider())))
    component = run.named("b")
    key = run.named("b-key")
    group = run.named("b-logs")
    (aws_provider,) = run.by_type("pulumi:providers:aws")
    assert group.parent == component.urn and key.parent == component.urn
    assert key.urn in group.dependencies
    assert group.property_dependencies["kmsKeyId"] == [key.urn]
    assert group.provider == aws_provider.urn
    assert group.protect is True and key.protect is False
    assert group.ignore_changes == ["retentionInDays"]


def test_urns_qualify_children_by_the_parent_chain_as_the_real_engine_does(build: Callable[..., Run]) -> None:
    run = build(lambda: Bucketish("b", opts=pulumi.ResourceOptions(provider=provider())))
    assert run.named("b").urn == "urn:pulumi:test::platform::test:index:Bucketish::b"
    assert run.named("b-key").urn == "urn:pulumi:test::platform::test:index:Bucketish$aws:kms/key:Key::b-key"


def test_secret_values_are_marked_kept_secret_and_redacted(build: Callable[..., Run]) -> None:
    def program() -> None:
        p = provider()
        password = random.RandomPassword("pw", length=32)
        aws.secretsmanager.SecretVersion(
            "sv",
            secret_id="arn:aws:secretsmanager:ca-central-1:123456789012:secret:x",
            secret_string=pulumi.Output.secret("hunter2-plain-secret"),
            opts=pulumi.ResourceOptions(provider=p),
        )
        pulumi.export("password", password.result)
        pulumi.export("plain", "visible")

    run = build(program, config={**REGION})
    (version,) = run.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.secret_inputs == ["/secretString"]
    assert "/secretString" in version.secret_outputs
    assert "password" in run.secret_outputs and "plain" not in run.secret_outputs
    document = json.dumps(run_json(run, {"violations": []}))
    assert "hunter2-plain-secret" not in document
    assert '"secretString": "[secret]"' in document and '"password": "[secret]"' in document


def test_redact_replaces_nested_secret_paths_only() -> None:
    value = {"a": {"b": [1, {"c": "s"}]}, "d": "keep"}
    assert redact(value, ["/a/b/1/c"]) == {"a": {"b": [1, {"c": "[secret]"}]}, "d": "keep"}
    assert redact(value, [""]) == "[secret]"
    assert value["a"]["b"][1]["c"] == "s", "the original is not modified"
    # A path that cannot be placed hides the whole value rather than show it.
    assert redact(value, ["/a/missing/x"]) == "[secret]"


def test_secrets_under_keys_with_dots_and_slashes_are_redacted(build: Callable[..., Run]) -> None:
    def program() -> None:
        aws.ec2.Vpc(
            "vpc",
            cidr_block="10.0.0.0/16",
            tags={"a.b": pulumi.Output.secret("s3cr3t-dot"), "kubernetes.io/x": pulumi.Output.secret("s3cr3t-slash")},
            opts=pulumi.ResourceOptions(provider=provider()),
        )

    for mode in ("preview", "update"):
        run = build(program, mode=mode)
        (vpc,) = run.by_type("aws:ec2/vpc:Vpc")
        assert sorted(vpc.secret_inputs) == ["/tags/a.b", "/tags/kubernetes.io~1x"]
        document = json.dumps(run_json(run, {"violations": []}))
        assert "s3cr3t" not in document, mode


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_a_secret_tag_keeps_tags_all_secret_in_both_modes(build: Callable[..., Run], mode: str) -> None:
    def program() -> None:
        aws.kms.Key(
            "key", tags={"team": pulumi.Output.secret("s3cr3t-tag")}, opts=pulumi.ResourceOptions(provider=provider())
        )

    run = build(program, mode=mode)
    (key,) = run.by_type("aws:kms/key:Key")
    # tagsAll copies the tags, so the secret tag would show through it.
    assert "/tagsAll" in key.secret_outputs
    tags_all = {"owner": "team", "project": "p", "team": "s3cr3t-tag"}
    assert key.raw_outputs["tagsAll"] == {SIG_KEY: SECRET_VALUE, "value": tags_all}
    assert "s3cr3t-tag" not in json.dumps(run_json(run, {"violations": []}))


def test_additional_secret_outputs_are_secret_on_the_wire_after_an_update(build: Callable[..., Run]) -> None:
    def program() -> None:
        aws.kms.Key("key", opts=pulumi.ResourceOptions(provider=provider(), additional_secret_outputs=["arn", "tags"]))

    run = build(program)
    (key,) = run.by_type("aws:kms/key:Key")
    assert key.secret_inputs == []
    assert key.secret_outputs == ["/arn", "/tags", "/tagsAll"]
    assert key.raw_outputs["arn"] == {SIG_KEY: SECRET_VALUE, "value": key.outputs["arn"]}
    assert key.raw_outputs["id"] == key.outputs["id"], "only the listed outputs are secret"


def test_two_resources_with_one_urn_fail_the_run(build: Callable[..., Run]) -> None:
    def program() -> None:
        p = provider()
        aws.kms.Key("same", opts=pulumi.ResourceOptions(provider=p))
        aws.kms.Key("same", opts=pulumi.ResourceOptions(provider=p))

    with pytest.raises(EngineError, match="duplicate resource URN"):
        build(program)


def test_exporting_a_resource_exports_its_outputs_and_the_stack_records_them(build: Callable[..., Run]) -> None:
    def program() -> None:
        key = aws.kms.Key("key", enable_key_rotation=True, opts=pulumi.ResourceOptions(provider=provider()))
        pulumi.export("key", key)
        pulumi.export("keyArn", key.arn)

    run = build(program)
    # As the SDK exports a resource: its properties by Python name.
    assert run.outputs["key"]["enable_key_rotation"] is True and run.outputs["key"]["arn"] == run.outputs["keyArn"]
    (stack,) = run.by_type("pulumi:pulumi:Stack")
    assert stack.outputs["keyArn"] == run.outputs["keyArn"] and stack.outputs["keyArn"].startswith("arn:aws:kms:")


def test_an_error_in_an_apply_names_the_program_line(build: Callable[..., Run]) -> None:
    def program() -> None:
        key = aws.kms.Key("key", opts=pulumi.ResourceOptions(provider=provider()))
        key.arn.apply(lambda arn: arn.nonexistent)

    with pytest.raises(EngineError) as caught:
        build(program)
    assert "tests/tools/test_engine.py" in str(caught.value) and "tools/engine.py" not in str(caught.value)
