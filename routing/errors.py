"""The routing tools' bad-input error, in a module of its own so the CDK app can use it without numpy."""


class RoutingInputError(Exception):
    """Bad input (a file, a flag): the CLI prints it and exits 2, without a traceback."""
