"""moto in server mode on 127.0.0.1 with this project's extension: ``python -m local_aws.server --port N``.

It binds 127.0.0.1 only; nothing outside this machine can reach it.
"""

from __future__ import annotations

import argparse

from local_aws import moto_extension


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args(argv)
    moto_extension.apply()
    from moto.server import main as moto_main

    moto_main(["--host", "127.0.0.1", "--port", str(args.port)])


if __name__ == "__main__":
    main()
