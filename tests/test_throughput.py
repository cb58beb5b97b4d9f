"""The first-principles throughput model and its calibration against published measurements."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llm_config.sizing import model_shape
from llm_config.throughput import Hardware, ModelShape, decode_step_seconds, predict
from planner.calibration import evaluate, fit, load_calibration, markdown_table
from tests.conftest import REPO_ROOT

DENSE_7B = ModelShape(
    parameters_billion=7.0, active_parameters_billion=7.0, layers=32, attention_heads=32, kv_heads=8, head_dim=128,
    bytes_per_parameter=2,
)  # fmt: skip


def test_decode_reads_every_weight_once_per_step(registry):
    a10g = Hardware.of(registry.instances.instances["ml.g5.xlarge"])
    # Ceiling with no KV cache: 14 GB / 600 GB/s = 23.3 ms per token, 42.9 tokens/s.
    assert decode_step_seconds(DENSE_7B, a10g, batch=1, context_tokens=0, ideal=True) == pytest.approx(14e9 / 600e9)
    # The estimate divides by the fitted efficiency: slower than the ceiling, never faster.
    estimate = decode_step_seconds(DENSE_7B, a10g, batch=1, context_tokens=0, ideal=False)
    assert estimate == pytest.approx(14e9 / (600e9 * a10g.gpu.decode_efficiency))


def test_kv_cache_read_grows_with_the_running_batch(registry):
    a10g = Hardware.of(registry.instances.instances["ml.g5.xlarge"])
    one = decode_step_seconds(DENSE_7B, a10g, batch=1, context_tokens=1000, ideal=True)
    eight = decode_step_seconds(DENSE_7B, a10g, batch=8, context_tokens=1000, ideal=True)
    kv_per_token = 2 * 32 * 8 * 128 * 2  # K and V, layers, kv heads, head dim, fp16
    assert eight - one == pytest.approx(7 * 1000 * kv_per_token / 600e9)


def test_a_mixture_of_experts_reads_its_active_parameters_alone_and_more_experts_in_a_batch(registry):
    mixtral = model_shape(registry.models["mixtral-8x7b"])
    assert mixtral.weights_read_bytes(1) == pytest.approx(12.9e9 * 0.5625)  # 2 of 8 experts: the active parameters
    assert mixtral.weights_read_bytes(4) > mixtral.weights_read_bytes(1)  # a batch routes to more experts
    assert mixtral.weights_read_bytes(1000) == pytest.approx(46.7e9 * 0.5625, rel=1e-6)  # at most all of them


def test_tensor_parallel_over_pcie_pays_per_layer_all_reduces(registry):
    """More GPUs raise the ceiling in proportion; the estimate gains less, since every layer's all-reduce costs time."""
    instances = registry.instances.instances
    one, four = (predict(DENSE_7B, Hardware.of(instances[n]), 500, 300, 1) for n in ("ml.g5.2xlarge", "ml.g5.12xlarge"))
    assert four.ceiling.tokens_per_second / one.ceiling.tokens_per_second == pytest.approx(4, rel=0.01)
    assert 2 < four.estimate.tokens_per_second / one.estimate.tokens_per_second < 3


def test_the_ceiling_is_faster_than_the_estimate_everywhere(registry):
    for name, instance in registry.instances.instances.items():
        for concurrency in (1, 8):
            prediction = predict(DENSE_7B, Hardware.of(instance), 500, 300, concurrency)
            assert prediction.ceiling.latency_seconds < prediction.estimate.latency_seconds, name


def test_the_model_is_within_20_percent_of_every_calibration_point(registry):
    rows = evaluate(load_calibration(), registry.instances)
    assert len(rows) >= 20
    worst = max(rows, key=lambda row: abs(row.error))
    assert abs(worst.error) < 0.2, f"{worst.point}: {worst.error:+.0%}"
    assert all(row.ceiling_is_beyond_measurement for row in rows)


def test_the_catalogue_holds_the_fitted_factors(registry):
    """instances.yaml's efficiencies are the fit, rounded: refitting moves none of them by more than 2%."""
    catalogue = registry.instances
    for key, value in fit(load_calibration(), catalogue).items():
        table, name, field = key.split(".")
        current = getattr(getattr(catalogue, table)[name], field)
        assert current == pytest.approx(value, rel=0.02), key


def test_docs_show_the_calibration_table(registry):
    table = markdown_table(evaluate(load_calibration(), registry.instances))
    assert table in (REPO_ROOT / "docs" / "planner.md").read_text(encoding="utf-8")
    printed = subprocess.run(
        [sys.executable, "-m", "planner.calibration"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == table
