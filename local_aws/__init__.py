"""The local rehearsal: the real CDK CLI deploying our real stacks into moto on 127.0.0.1.

Not product code: nothing under stacks/, llm_constructs/ or llm_config/ imports this package.

- ``moto_extension``: closes the gaps of stock moto that would make a local deploy lie.
  Written for exactly one moto version (``MOTO_VERSION``); it refuses to run on another.
- ``server``: runs moto in server mode with the extension applied.
- ``verify``: checks with boto3 that every resource of a synthesized template exists with its key properties.
- ``rehearsal``: the ``./tasks.sh deploy-local`` / ``destroy-local`` commands.
"""

# ``python -m local_aws.server`` exits with this status when its port is taken, so the rehearsal can try another.
PORT_TAKEN = 3
