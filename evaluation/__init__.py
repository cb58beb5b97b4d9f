"""The evaluation harness: call targets (endpoints, their variants, Bedrock models) through ``llm_client`` on a test set,
measure latency, tokens, errors, cost and quality, and report them side by side (docs/evaluation.md).

    ./tasks.sh evaluate --tests evaluation/examples/example.yaml --target chat/mistral-7b --target chat/mixtral-8x7b
"""
