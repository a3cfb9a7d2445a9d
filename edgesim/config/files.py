"""Reading a user's file as text: every way it can fail is a `ConfigError` naming the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

from edgesim.errors import ConfigError, Problem


def read_text(path: str | Path, source: str | None = None) -> str:
    """The file's text (UTF-8). A missing, unreadable or non-UTF-8 file, or a directory, is a ConfigError."""
    p = Path(path)
    where = source or str(path)
    try:
        return p.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(Problem(source=where, path="", message="is a directory; expected a file")) from None
    except OSError as exc:
        raise ConfigError(Problem(source=where, path="", message=f"cannot read file: {exc.strerror or exc}")) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(source=where, path="", message=(
            f"is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"))) from None
    except ValueError as exc:  # e.g. an embedded NUL in the path
        raise ConfigError(Problem(source=where, path="", message=f"cannot read file: {exc}")) from None
