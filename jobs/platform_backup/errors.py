"""The two kinds of expected failure: the CLI prints them as one line, without a traceback."""


class ConfigError(Exception):
    """A required setting is missing or malformed (exit code 2)."""


class BackupError(Exception):
    """A backup, verification or restore failed (exit code 1)."""
