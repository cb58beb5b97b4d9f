"""What every shipped SageMaker model config deploys, asserted on the synthesized template."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from llm_config import ModelRegistry, SageMakerModelConfig
from tests.conftest import SAGEMAKER_MODELS, client_parameter, only


def sagemaker_model(registry: ModelRegistry, key: str) -> SageMakerModelConfig:
    model = registry.resolve(key)
    assert isinstance(model, SageMakerModelConfig)
    return model


@pytest.mark.parametrize("key", SAGEMAKER_MODELS)
def test_endpoint_serves_the_configured_model_on_its_instance(synth, registry, key):
    model = sagemaker_model(registry, key)
    instance = registry.instance_for(model)
    template = synth(model=key)

    endpoint = only(template, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == key

    config = only(template, "AWS::SageMaker::EndpointConfig")
    assert "EndpointConfigName" not in config, "a fixed name would collide when CloudFormation replaces the config"
    assert "KmsKeyId" not in config
    [variant] = config["ProductionVariants"]
    # SageMaker takes instance pools (the type, then its fallbacks: docs/instance-pools.md) instead of an instance type.
    assert "InstanceType" not in variant
    assert [pool["InstanceType"] for pool in variant["InstancePools"]] == model.instance.pool_types
    assert [pool["Priority"] for pool in variant["InstancePools"]] == list(range(1, len(model.instance.pool_types) + 1))
    assert variant["InitialInstanceCount"] == model.instance.initial_count
    assert variant["VariantName"] == key
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == model.instance.container_startup_health_check_timeout_seconds
    assert variant["ModelDataDownloadTimeoutInSeconds"] == model.instance.model_data_download_timeout_seconds
    assert "VolumeSizeInGB" not in variant, "SageMaker rejects VolumeSizeInGB on NVMe instances"

    image = registry.image_for(model)
    assert variant["InferenceAmiVersion"] == image.inference_ami_version == "al2023-ami-sagemaker-inference-gpu-4-1"

    container = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    environment = container["Environment"]
    assert container["Image"] == image.uri("us-east-1")
    assert image.repository == "djl-inference"
    assert environment["OPTION_TENSOR_PARALLEL_DEGREE"] == str(instance.gpus)
    assert environment["HF_MODEL_ID"] == model.hugging_face.model_id
    assert environment["OPTION_REVISION"] == model.hugging_face.revision
    assert environment["OPTION_MAX_MODEL_LEN"] == str(model.container.max_total_tokens)
    assert environment["OPTION_MAX_ROLLING_BATCH_SIZE"] == str(model.container.max_batch_size)
    assert environment["OPTION_GPU_MEMORY_UTILIZATION"] == "0.9"
    assert environment["OPTION_ASYNC_MODE"] == "true"
    assert environment["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"
    assert not {"SM_NUM_GPUS", "MAX_TOTAL_TOKENS", "HF_MODEL_QUANTIZE"} & set(environment), "no TGI variables"


def test_mixtral_loads_its_gptq_checkpoint_sharded_over_every_gpu(synth, four_gpu_synth):
    environment = only(synth(model="mixtral"), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    # vLLM reads GPTQ from the checkpoint's config.json; naming it again would cost it the Marlin kernels.
    assert "OPTION_QUANTIZE" not in environment
    assert environment["OPTION_TENSOR_PARALLEL_DEGREE"] == "1"  # one L40S on ml.g6e.xlarge
    on_four = only(four_gpu_synth(model="mixtral"), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert on_four["OPTION_TENSOR_PARALLEL_DEGREE"] == "4"  # ml.g5.12xlarge: sharded over its 4 A10Gs


@pytest.mark.parametrize("key", ["mistral-7b", "llama2-7b", "llama2-13b"])
def test_gated_models_read_the_token_from_secrets_manager_never_plain_text(synth, key):
    environment = only(synth(model=key), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    token = environment["HF_TOKEN"]
    assert token == "{{resolve:secretsmanager:llm-endpoints/hugging-face-token:SecretString:::}}"


def test_ungated_models_get_no_token(synth):
    environment = only(synth(model="mixtral"), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert not {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} & set(environment)


@pytest.mark.parametrize("key", SAGEMAKER_MODELS)
def test_execution_role_is_least_privilege(synth, key):
    template = synth(model=key)
    role = only(template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role, "no AWS-managed policies such as AmazonSageMakerFullAccess"
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
        if statement["Resource"] == "*":
            assert actions in (["ecr:GetAuthorizationToken"], ["cloudwatch:PutMetricData"]), statement
    pull = next(s for s in statements if s.get("Sid") == "PullServingImage")
    assert pull["Resource"] == "arn:aws:ecr:us-east-1:763104351884:repository/djl-inference"


def test_image_comes_from_the_regions_own_registry_account(synth, registry):
    template = synth(model="mistral", region="ap-east-1")
    image = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image.startswith("871362719292.dkr.ecr.ap-east-1.amazonaws.com/djl-inference:")


def test_endpoint_context_names_endpoint_stack_and_parameter(synth):
    template = synth(model="mixtral", endpoint="chat")
    assert only(template, "AWS::SageMaker::Endpoint")["EndpointName"] == "chat"
    parameter = client_parameter(template, "chat")
    assert parameter["Name"] == "/llm-endpoints/chat"
    metadata = json.loads(parameter["Value"])
    assert metadata["hosting"] == "sagemaker"  # the field a client branches on; a Bedrock stack writes "bedrock"
    assert metadata["endpoint_name"] == "chat"
    assert metadata["variants"][0]["model_key"] == "mixtral-8x7b"
    assert metadata["variants"][0]["prompt_format"] == "<s>[INST] {prompt} [/INST]"
    assert metadata["variants"][0]["latency_budget_seconds"] == 10


def test_default_model_is_mistral_7b(synth):
    assert only(synth(), "AWS::SageMaker::Endpoint")["EndpointName"] == "mistral-7b"


def test_outputs_tell_clients_where_to_look(synth):
    template = synth(model="mixtral")
    template.has_output("EndpointName", {"Value": "mixtral-8x7b"})
    template.has_output("ClientParameterName", Match.any_value())
    # 1 x ml.g6e.xlarge at $2.61/h x 730 h, up to ml.g6e.4xlarge at $3.7553/h if the last fallback serves
    template.has_output("EstimatedMonthlyHostingUsd", {"Value": "1905-2741"})


def test_staged_weights_skip_the_hub_and_isolate_the_network(registry):
    from aws_cdk import App, Stack

    from llm_constructs import EndpointVariant, SageMakerLlmEndpoint

    base = sagemaker_model(registry, "llama2-13b")
    staged = base.model_copy(
        update={"hugging_face": base.hugging_face.model_copy(update={"weights_s3_uri": "s3://my-weights/llama2-13b/"})}
    )
    stack = Stack(App(), "Staged", env={"region": "us-east-1"})
    SageMakerLlmEndpoint(
        stack,
        "LlmEndpoint",
        endpoint_name="staged",
        variants=[EndpointVariant(name="v", model=staged, instance=registry.instance_for(base), image=registry.image_for(base))],
    )
    template = Template.from_stack(stack)
    model = only(template, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"]["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert "HF_TOKEN" not in model["PrimaryContainer"]["Environment"]
    assert "OPTION_REVISION" not in model["PrimaryContainer"]["Environment"]
    assert model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": "s3://my-weights/llama2-13b/",
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
    }
    statements = only(template, "AWS::IAM::Role")["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Action": "s3:GetObject", "Effect": "Allow", "Resource": "arn:aws:s3:::my-weights/llama2-13b/*"} in statements


def test_the_stack_owns_the_endpoint_log_group_with_retention_and_encryption(synth):
    template = synth(model="mistral", endpoint="chat")
    [(group_id, group)] = template.find_resources("AWS::Logs::LogGroup").items()
    assert group["Properties"]["LogGroupName"] == "/aws/sagemaker/Endpoints/chat"
    assert group["Properties"]["RetentionInDays"] == 30
    [key_id] = template.find_resources("AWS::KMS::Key")
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}  # the stack's own rotating key
    assert group["DeletionPolicy"] == "Delete"  # it goes with the stack: destroy leaves no log group behind
    # Created before the endpoint, so SageMaker never creates it first (which would fail the stack's create).
    [endpoint] = template.find_resources("AWS::SageMaker::Endpoint").values()
    assert group_id in endpoint["DependsOn"]
    [key] = template.find_resources("AWS::KMS::Key").values()
    [logs_statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowCloudWatchLogs"]
    assert logs_statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == {
        "Fn::Join": ["", ["arn:aws:logs:us-east-1:", {"Ref": "AWS::AccountId"}, ":log-group:/aws/sagemaker/Endpoints/chat"]]
    }


def test_endpoint_stacks_have_termination_protection(tmp_path):
    from aws_cdk import App

    from stacks.app_factory import add_deployment
    from tests.conftest import CDK_JSON_CONTEXT

    sagemaker = add_deployment(App(context={**CDK_JSON_CONTEXT, "model": "mistral"}, outdir=str(tmp_path / "s")), {})
    bedrock = add_deployment(App(context={**CDK_JSON_CONTEXT, "model": "claude-haiku-4-5"}, outdir=str(tmp_path / "b")), {})
    assert (sagemaker.termination_protection, bedrock.termination_protection) == (True, True)


@pytest.mark.parametrize(("key", "kind"), [("mistral", "sagemaker"), ("claude-haiku-4-5", "bedrock")])
def test_each_hosting_kind_owns_its_own_lock_parameter(synth, key, kind):
    """Same parameter name, a logical ID per kind: a change of kind in one stack must create the other's lock while
    the first exists, which SSM refuses before CloudFormation's cleanup phase could delete the endpoint."""
    template = synth(model=key, endpoint="chat")
    locks = template.find_resources("AWS::SSM::Parameter", {"Properties": {"Name": "/llm-endpoint-hosting/chat"}})
    [(logical_id, lock)] = locks.items()
    assert logical_id.startswith({"sagemaker": "HostingLockSageMaker", "bedrock": "HostingLockBedrock"}[kind])
    assert lock["Properties"]["Value"] == kind
    assert template.to_json()["Outputs"]["Hosting"]["Value"] == kind
