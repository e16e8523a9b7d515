"""Errors that describe a problem with what the user gave us, not a bug in FoleyStudio.

Every one of them carries a message fit to show as is: the CLI prints it on one line and exits
with code 2, the GUI shows it in a dialog. Anything else that escapes is an internal error.
"""


class UserInputError(ValueError):
    """Bad input from the user: a missing, unreadable or unsuitable file, or a bad value."""


class MediaError(UserInputError):
    """A media file that cannot be read, or lacks what is asked of it (no audio, no video)."""


class ProjectError(UserInputError):
    """A project file that cannot be opened as a FoleyStudio project."""


class OutputError(UserInputError):
    """An output that cannot be written: the file exists, or the folder is not writable."""
