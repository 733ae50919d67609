"""Errors the command line turns into one line on stderr and an exit code.

    AddlinkError            base; exit 2 (usage or configuration error)
    ├── ConfigError         the configuration file or environment is invalid; exit 2
    └── GateRejected        a trained model is below the release gate; exit 3
"""


class AddlinkError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""

    exit_code = 2


class GateRejected(AddlinkError):
    """The release gate refused to publish a model."""

    exit_code = 3


class ConfigError(AddlinkError):
    """The configuration is invalid; the message names each bad key as a dotted path, one per line."""
