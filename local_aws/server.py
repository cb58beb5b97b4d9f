"""moto in server mode on 127.0.0.1 with this project's extension: ``python -m local_aws.server --port N``.

With ``--standin-port M`` the same process also serves the model runtimes' protocol stand-in
(``local_aws.protocol_standin``) on 127.0.0.1:M, answering for the endpoints and Bedrock models deployed into this
emulator. Both bind 127.0.0.1 only; nothing outside this machine can reach them.
"""

from __future__ import annotations

import argparse
import functools
import socket
import sys
from typing import Any

from local_aws import PORT_TAKEN, moto_extension
from local_aws.protocol_standin import MotoCatalog, StandinServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--standin-port", type=int, help="TCP port on 127.0.0.1 for the runtimes' protocol stand-in")
    # Not used by the server: they mark its command line, from which the rehearsal recovers a damaged state file.
    parser.add_argument("--region", help="the region the rehearsal deploys into (moto serves every region)")
    parser.add_argument("--state-file", help="the rehearsal's state file that records this emulator")
    args = parser.parse_args(argv)
    for port in filter(None, [args.port, args.standin_port]):
        if not port_is_free(port):
            print(f"error: port {port} of 127.0.0.1 is taken by another program\n  fix: choose another --port", file=sys.stderr)
            sys.exit(PORT_TAKEN)
    moto_extension.apply()
    from moto.server import main as moto_main

    if args.standin_port:
        StandinServer(MotoCatalog(functools.cache(functools.partial(emulator_client, args.port))), args.standin_port).start()
    moto_main(["--host", "127.0.0.1", "--port", str(args.port)])


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound now (werkzeug and the stand-in would fail with a traceback)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def emulator_client(port: int, service: str, region: str) -> Any:
    """A boto3 client of this emulator (the stand-in's view of what is deployed)."""
    from local_aws.rehearsal import Emulator, client_factory

    return client_factory(Emulator(pid=0, port=port, region=region))(service)


if __name__ == "__main__":
    main()
