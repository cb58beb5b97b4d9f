"""``python -m llm_client ENDPOINT PROMPT``: one answer from an endpoint, on boto3 alone.

Exit status: 0 answered, 1 the call failed (one line on stderr saying why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llm_client.client import Client
from llm_client.errors import LlmClientError


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llm_client", description=__doc__.split("\n\n")[0])
    parser.add_argument("endpoint", help="endpoint name: reads SSM parameter /llm-endpoints/ENDPOINT")
    parser.add_argument("prompt")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION or your AWS config)")
    parser.add_argument("--system", help="system prompt")
    parser.add_argument("--max-tokens", type=int, help="answer length (default 512, capped by the endpoint's limits)")
    parser.add_argument(
        "--variant",
        help="call this SageMaker variant only, or on a scale-to-zero endpoint this inference component (its model key "
        "or component name); default: by weight",
    )
    parser.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    parser.add_argument(
        "--cold-start-seconds",
        type=float,
        help="scale-to-zero endpoints: how long to wait for a copy to start (default: the parameter's "
        "expected_cold_start_seconds)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = Client(region=args.region, log=lambda line: print(line, file=sys.stderr))
        options = {
            "system": args.system,
            "max_tokens": args.max_tokens,
            "variant": args.variant,
            "cold_start_seconds": args.cold_start_seconds,
        }
        if args.stream:
            for piece in client.stream(args.endpoint, args.prompt, **options):
                print(piece, end="", flush=True)
            print()
        else:
            answer = client.invoke(args.endpoint, args.prompt, **options)
            print(answer.text)
            print(
                (f"(route {answer.route}: {answer.route_reason}) " if answer.route else "")
                + f"({answer.hosting}: {answer.served_by}, {answer.latency_seconds:.2f} s, "
                f"{answer.output_tokens if answer.output_tokens is not None else '?'} tokens, {answer.attempts} try"
                + (f", cold start {answer.cold_start_seconds:.1f} s)" if answer.cold_start_seconds else ")"),
                file=sys.stderr,
            )
    except LlmClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
