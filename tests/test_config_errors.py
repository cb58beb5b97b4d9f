"""Bad config files and bad `-c` values stop synth with one message naming the file, the field and the fix."""

from __future__ import annotations

import os
import re
import shutil
import time
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_config import ConfigError, SageMakerModelConfig, load_registry, yaml_files
from llm_config.deployment import deployment_from_context
from llm_config.deployment_file import DeploymentFile
from llm_config.operations import MAX_BUDGET_USD
from llm_config.yaml_files import MAX_FILE_BYTES, parse_as, read_yaml_mapping
from tests.conftest import REPO_ROOT

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", target)
    return target


def edit(config_dir: Path, name: str, change: Edit) -> None:
    path = config_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def load_error(config_dir: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_registry(config_dir)
    return str(caught.value)


def test_shipped_configs_load(config_dir):
    registry = load_registry(config_dir)
    assert set(registry.models) >= {"mistral-7b", "mixtral-8x7b", "llama2-7b", "llama2-13b", "llama2-70b"}
    assert registry.resolve("mixtral").key == "mixtral-8x7b"
    assert registry.resolve("mistral").key == "mistral-7b"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d.update(instance_typ="ml.g5.xlarge"),
            r"mistral-7b.yaml: instance_typ: unknown key\n  fix: did you mean instance\? \(model_configs/README.md",
        ),
        (
            lambda d: d.update(zzz=1),
            r"zzz: unknown key\n  fix: remove it or correct its spelling; known here: active_parameters_billion, alarms,"
            r" aliases, .*best_for.*reference_request",
        ),
        (
            lambda d: d["container"].update(max_totl_tokens=1),
            r"container.max_totl_tokens: unknown key\n  fix: did you mean max_total_tokens\?",
        ),
        (
            lambda d: d["container"].update(max_total_tokens="8192"),
            r"container.max_total_tokens: Input should be a valid integer",
        ),
        (lambda d: d["instance"].update(initial_count=0), r"instance.initial_count: Input should be greater than or equal to 1"),
        (
            lambda d: d["instance"].update(type="ml.g5.huge"),
            r"instance.type: unknown instance type 'ml.g5.huge'\n  fix: use one of",
        ),
        (lambda d: d["container"].update(image="tgi-9"), r"container.image: unknown container image 'tgi-9'"),
        (lambda d: d.pop("latency_budget_seconds"), r"latency_budget_seconds: required key is missing"),
        (
            lambda d: d["container"].update(max_input_tokens=8192),
            r"container: max_input_tokens \(8192\) must be below max_total_tokens \(8192\)",
        ),
        (lambda d: d["container"].update(max_batch_total_tokens=4096), r"exceeds max_batch_total_tokens"),
        (
            lambda d: d["container"]["environment"].update(OPTION_TENSOR_PARALLEL_DEGREE="2"),
            r"container: OPTION_TENSOR_PARALLEL_DEGREE is set by the project from typed fields for the lmi family",
        ),
        (
            lambda d: d["container"]["environment"].update(OPTION_MAX_NUM_SEQS="64"),
            r"OPTION_MAX_NUM_SEQS is set by the project .*\n  fix: remove it from container.environment",
        ),
        (
            lambda d: d["container"].update(family="tgi", max_batch_size=None, environment={"SM_NUM_GPUS": "2"}),
            r"SM_NUM_GPUS is set by the project from typed fields for the tgi family",
        ),
        (
            lambda d: d["container"].update(family="tgi", max_batch_size=None, environment={"MAX_INPUT_LENGTH": "1"}),
            r"MAX_INPUT_LENGTH is the deprecated name",
        ),
        (lambda d: d["container"].update(quantization="int3"), r"container.quantization: got 'int3'\n  fix: use 'none', 'gptq'"),
        (lambda d: d["instance"].update(model_data_download_timeout_seconds=7200), r"less than or equal to 3600"),
        (
            lambda d: d["hugging_face"].pop("token_secret_name"),
            r"hugging_face: .* is gated .*\n  fix: set hugging_face.token_secret_name",
        ),
        (lambda d: d.update(prompt_format="[INST] [/INST]"), r"prompt_format: .*no \{prompt\} placeholder"),
        (lambda d: d.update(key="mistral-8b"), r"key: key 'mistral-8b' differs from the file name"),
        (lambda d: d.update(hosting="ec2"), r"hosting: got 'ec2'\n  fix: use one of"),
    ],
)
def test_bad_field_names_file_field_and_fix(config_dir, change, expected):
    edit(config_dir, "mistral-7b", change)
    message = load_error(config_dir)
    assert message.startswith(f"{config_dir / 'mistral-7b.yaml'}: ")
    assert re.search(expected, message), message


def test_duplicate_alias_names_both_files_and_blames_the_edited_one(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d.update(aliases=["mixtral"]))
    message = load_error(config_dir)
    assert message.startswith(
        f"{config_dir / 'mistral-7b.yaml'}: aliases: 'mixtral' is already a model key or alias in "
        f"{config_dir / 'mixtral-8x7b.yaml'}: keys and aliases must be unique"
    )


def test_a_copied_config_is_blamed_for_the_alias_it_kept_not_the_original(config_dir):
    """The user copies mistral-7b.yaml to mistral-7b-v2.yaml and changes only the key. The copy sorts before the
    original (`-` < `.`), so blaming the file read second would blame the untouched original."""
    original = config_dir / "mistral-7b.yaml"
    copy = config_dir / "mistral-7b-v2.yaml"
    data = yaml.safe_load(original.read_text())
    copy.write_text(yaml.safe_dump({**data, "key": "mistral-7b-v2"}))
    assert sorted([copy.name, original.name])[0] == copy.name
    message = load_error(config_dir)
    assert message.startswith(f"{copy}: aliases: 'mistral' is already a model key or alias in {original}:"), message
    assert "remove 'mistral' here" in message


def test_malformed_yaml_names_the_line(config_dir):
    (config_dir / "mixtral-8x7b.yaml").write_text("key: mixtral-8x7b\ncontainer: [unclosed\n")
    message = load_error(config_dir)
    assert "mixtral-8x7b.yaml: malformed YAML at line" in message
    assert "fix: fix the YAML syntax" in message


def test_non_mapping_file(config_dir):
    (config_dir / "llama2-7b.yaml").write_text("- just a list\n")
    assert "must hold a YAML mapping" in load_error(config_dir)


def test_an_unpinned_revision_needs_a_written_reason(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d["hugging_face"].update(revision="main"))
    message = load_error(config_dir)
    assert "mistral-7b.yaml: hugging_face: revision 'main' is not a commit SHA, so two instances may load" in message
    assert "or keep the branch and say why in hugging_face.unpinned_reason" in message
    edit(config_dir, "mistral-7b", lambda d: d["hugging_face"].update(unpinned_reason="  "))
    assert "revision 'main' is not a commit SHA" in load_error(config_dir)
    edit(config_dir, "mistral-7b", lambda d: d["hugging_face"].update(unpinned_reason="rehearsal only"))
    model = load_registry(config_dir).resolve("mistral")
    assert isinstance(model, SageMakerModelConfig) and model.hugging_face.revision == "main"


def test_every_shipped_branch_revision_says_why(registry):
    for model in registry.models.values():
        source = getattr(model, "hugging_face", None)
        if source is not None and len(source.revision) != 40:
            assert source.unpinned_reason and "Pin the SHA" in source.unpinned_reason, model.key


def test_broken_instance_catalogue(config_dir):
    edit(config_dir, "instances", lambda d: d["instances"]["ml.g5.xlarge"].update(gpus=0))
    assert "instances.yaml: instances.ml.g5.xlarge.gpus: Input should be greater than or equal to 1" in load_error(config_dir)


def test_mixtral_on_the_guides_instance_does_not_fit(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d["instance"].update(type="ml.g5.2xlarge"))
    message = load_error(config_dir)
    assert "mixtral-8x7b.yaml: instance.type: mixtral-8x7b (gptq weights) on ml.g5.2xlarge fails GPU memory" in message
    assert "26.3 GB weights" in message
    assert "fix: set instance.type to ml.g6e.xlarge, the cheapest catalogued instance that passes all three checks" in message


def test_mixtral_fp16_on_g5_12xlarge_needs_quantization(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d["container"].update(quantization="none"))
    edit(config_dir, "mixtral-8x7b", lambda d: d["instance"].update(type="ml.g5.12xlarge"))
    message = load_error(config_dir)
    assert "93.4 GB weights" in message
    assert "fix: set instance.type to ml.g6e.12xlarge" in message
    assert "set container.quantization to fp8 to keep ml.g5.12xlarge" in message  # what LMI quantizes to at load


def test_llama2_13b_fp16_does_not_fit_one_a10g(config_dir):
    edit(config_dir, "llama2-13b", lambda d: d["instance"].update(type="ml.g5.2xlarge"))
    message = load_error(config_dir)
    assert "llama2-13b (fp16 weights) on ml.g5.2xlarge fails GPU memory" in message
    assert "26.0 GB weights" in message


def test_llama2_70b_needs_quantized_weights(config_dir):
    edit(config_dir, "llama2-70b", lambda d: d["container"].update(quantization="none"))
    assert "138.0 GB weights" in load_error(config_dir)


def test_kv_cache_too_large_suggests_a_smaller_batch(config_dir):
    edit(config_dir, "llama2-7b", lambda d: d["container"].update(max_batch_total_tokens=16384))
    message = load_error(config_dir)
    assert "llama2-7b (fp16 weights) on ml.g5.xlarge fails GPU memory" in message
    assert "lower container.max_batch_total_tokens to at most" in message


def context(**values: str) -> Callable[[str], Any]:
    return values.get


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"model": "gpt-5"}, r"-c model: unknown model 'gpt-5'\n  fix: use one of .*mixtral"),
        ({"endpoint": "my_endpoint!"}, r"-c endpoint: 'my_endpoint!' is not a valid SageMaker endpoint name"),
        ({"endpoint": "-chat"}, r"not a valid SageMaker endpoint name"),
        ({"region": "mars-1"}, r"-c region: 'mars-1' is not an AWS region name"),
        ({"model": ""}, r"-c model: expected a non-empty text value"),
    ],
)
def test_bad_context_values(registry, values, expected):
    with pytest.raises(ConfigError, match=expected):
        deployment_from_context(context(**values), {}, registry)


def test_context_defaults(registry):
    spec = deployment_from_context(context(), {}, registry)
    assert (spec.model.key, spec.endpoint_name, spec.region, spec.stack_name) == (
        "mistral-7b",
        "mistral-7b",
        "us-east-1",
        "llm-mistral-7b",
    )
    assert deployment_from_context(context(), {"CDK_DEFAULT_REGION": "eu-west-1"}, registry).region == "eu-west-1"
    assert deployment_from_context(context(region="eu-central-1"), {"CDK_DEFAULT_REGION": "eu-west-1"}, registry).region == (
        "eu-central-1"
    )


def test_region_without_a_registry_account_is_refused(synth):
    # The pinned SDK lists no LMI 0.38.0 registry in ap-southeast-6 (it does list TGI 3.3.6 there).
    with pytest.raises(
        ConfigError, match=r"djl-inference:0.38.0-lmi29.0.0-cu130 has no registry account listed for ap-southeast-6"
    ):
        synth(model="mistral", region="ap-southeast-6")


def test_a_budget_below_the_always_on_floor_is_refused(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d["budget"].update(amount_usd=60))
    message = load_error(config_dir)
    # Priced on the dearest instance pool, ml.g6e.4xlarge: a fallback may serve for as long as ml.g6e.xlarge is sold out.
    assert re.search(
        r"mixtral-8x7b.yaml: budget.amount_usd: the minimum capacity alone costs \$90\.13 per day \(\$3\.7553/h on"
        r" ml\.g6e\.4xlarge, the dearest of its instance pools\)",
        message,
    )
    assert "alert every period\n  fix: raise the budget above $90 or lower scaling.min_instances" in message


def test_a_monthly_budget_is_compared_with_730_hours(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d["budget"].update(time_unit="MONTHLY"))
    assert "costs $1,481.90 per month" in load_error(config_dir)  # 2.03 (ml.g5.4xlarge, the dearest pool) x 730


def test_a_misspelt_key_is_named_with_the_nearest_known_one_not_as_the_missing_one(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d.update(bestfor=d.pop("best_for")))
    message = load_error(config_dir)
    assert re.search(r"mistral-7b.yaml: bestfor: unknown key\n  fix: did you mean best_for\?", message), message
    assert "missing" not in message


def test_a_misspelt_hosting_is_named(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d.update(hostng=d.pop("hosting")))
    assert re.search(r"mistral-7b.yaml: hostng: unknown key\n  fix: did you mean hosting\?", load_error(config_dir))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["budget"].update(amount_usd=1e300), r"budget.amount_usd: Input should be less than or equal to 1000000"),
        (lambda d: d.update(parameters_billion=float("nan")), r"parameters_billion: Input should be a finite number"),
        (lambda d: d.update(latency_budget_seconds=float("inf")), r"latency_budget_seconds: Input should be a finite number"),
    ],
)
def test_numbers_must_be_finite_and_in_range(config_dir, change, expected):
    edit(config_dir, "mistral-7b", change)
    assert re.search(expected, load_error(config_dir))


def test_a_bedrock_budget_is_bounded_too(config_dir):
    edit(config_dir, "claude-3-haiku", lambda d: d.setdefault("budget", {}).update(amount_usd=1e300))
    assert "claude-3-haiku.yaml: budget.amount_usd: Input should be less than or equal to 1000000" in load_error(config_dir)


def test_duplicate_keys_are_refused_with_both_lines(config_dir):
    path = config_dir / "mistral-7b.yaml"
    lines = path.read_text().splitlines()
    first = next(number for number, line in enumerate(lines, 1) if line.startswith("best_for:"))
    path.write_text("\n".join([*lines, "best_for: something else"]) + "\n")
    message = load_error(config_dir)
    assert f"mistral-7b.yaml: duplicate key 'best_for' (first at line {first}) at line {len(lines) + 1}, column 1" in message
    assert "fix: keep one of the two: YAML would silently use the last" in message


# The alias bomb (324 bytes): expanded, the last key holds 9**9 (387 million) strings.
ALIAS_BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{new}: &{new} [{','.join([f'*{old}'] * 9)}]\n" for old, new in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_yaml_alias_bomb_is_refused_at_once_in_a_short_message(config_dir):
    (config_dir / "mistral-7b.yaml").write_text(ALIAS_BOMB)
    started = time.monotonic()
    message = load_error(config_dir)
    assert time.monotonic() - started < 2
    assert re.search(r"mistral-7b.yaml: YAML aliases \(\*name\) are not allowed in this file at line 2, column 8", message)
    assert "fix: write the value out in full" in message


def test_an_error_about_a_huge_value_stays_short(tmp_path):
    value: Any = ["lol"] * 9
    for _ in range(6):  # shared lists: small in memory, a repr of 4 million items
        value = [value] * 9
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_as(DeploymentFile, {"endpoint": value, "model": "mistral"}, "chat.yaml")
    assert time.monotonic() - started < 2
    assert len(str(caught.value)) < 500
    got = "[[[...], [...], [...], [...], ...], [[...], "
    assert str(caught.value).startswith(f"chat.yaml: endpoint: Input should be a valid string (got {got}")


def test_a_huge_problem_text_is_cut():
    message = str(ConfigError("-c model", None, f"unknown model {'x' * 100_000!r}", "use one of mistral"))
    assert len(message) < 1100
    assert message.endswith("characters cut)\n  fix: use one of mistral")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"key: mistral-7b\nbest_for: caf\xe9\n", r"is not UTF-8 text \(byte 0xe9 at line 2\)\n  fix: save the file as UTF-8"),
        (b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n", r"the YAML is nested too deeply"),
        (b"a: " + b"[" * 120_000 + b"]" * 120_000 + b"\n", r"the YAML is nested too deeply"),  # libyaml's composer would crash
        (b"a: b\n\tc: d\n", r"malformed YAML at line 2, column 1: found character '\\t' that cannot start any token"),
        (b"# padding\n" * 30_000, r"the file is larger than 256 KiB"),
        (b"a: 1\nb: " + b"9" * 5000 + b"\n", r"cannot read this value \(Exceeds the limit .*\) at line 2, column 4"),
        (b"retrieved: 2026-13-01\n", r"cannot read this value \(month must be in 1..12\) at line 1, column 12\n  fix: quote it"),
    ],
)
def test_unreadable_files_get_one_message(tmp_path, content, expected):
    path = tmp_path / "x.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"^x.yaml: " + expected):
        read_yaml_mapping(path, "x.yaml")


def test_libyaml_reads_every_yaml_file_of_the_repository_as_pyyaml_does():
    """Files are read with libyaml's parser for speed (llm_config/yaml_files.py): the data must be PyYAML's."""
    paths = [p for p in REPO_ROOT.rglob("*.yaml") if not {".venv", "node_modules", ".git"} & set(p.parts)]
    assert len(paths) > 30
    for path in paths:
        text = path.read_text()
        assert yaml.load(text, Loader=yaml_files._FastStrictLoader) == yaml.load(text, Loader=yaml_files._StrictLoader), path


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "fifo", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer forever
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^spec: is not a regular file\n  fix: check the path"):
        read_yaml_mapping(path, "spec")
    assert time.monotonic() - started < 2


def test_no_pattern_in_the_product_spells_digits_as_backslash_d():
    r"""\d matches every script's digits ("١٢" too) and $ matches before a final newline: the product's patterns
    spell [0-9] and are used with fullmatch (pydantic's Rust regex engine has no such $)."""
    offenders = []
    for path in sorted(REPO_ROOT.glob("*.py")) + sorted(REPO_ROOT.glob("[!.]*/**/*.py")):
        if path.parts[len(REPO_ROOT.parts)] in ("tests", "node_modules"):
            continue
        with path.open("rb") as file:
            for token in tokenize.tokenize(file.readline):
                if token.type == tokenize.STRING and "\\d" in token.string and "r" in token.string.split("'")[0].split('"')[0]:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{token.start[0]}")
                if token.type == tokenize.NAME and token.string == "match" and _is_re_match(token.line):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{token.start[0]} (.match: use .fullmatch)")
    assert offenders == []


def _is_re_match(line: str) -> bool:
    return bool(re.search(r"(\bre|PATTERN|_ARN|\bpattern)\.match\(", line))


@pytest.mark.parametrize("doc", ["README.md", "model_configs/README.md", "docs/deployments.md"])
def test_the_docs_quote_the_limits_the_code_enforces(doc):
    text = " ".join((REPO_ROOT / doc).read_text().split())
    assert f"{MAX_FILE_BYTES // 1024} KiB" in text
    if doc != "docs/deployments.md":
        assert f"at most {MAX_BUDGET_USD:,}" in text
