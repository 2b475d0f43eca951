"""Errors that reach the user: each names the file, field or value at fault."""


class HmrbenchError(Exception):
    """Base class for errors the CLI reports as a message (no traceback)."""


class ModelFileError(HmrbenchError):
    """A body-model file is missing, unreadable or lacks a required key."""


class DataFileError(HmrbenchError):
    """A dataset file is missing, malformed, or holds values out of range; the message names file and field."""


class ConfigError(HmrbenchError):
    """An unknown name (method, dataset, setting) or a setting value out of range; the message lists valid ones."""


class TrackingError(HmrbenchError):
    """The tracking store (MLflow) cannot be reached or written; the message names the URI."""
