"""Evidence files for the dashboard, read only from inside the media root.

Paths come from the store (written by workers) and are relative to the media root. Each is checked before a
byte is read: no absolute paths, no `..`, and the fully resolved path (symlinks followed) must still be inside
the resolved root, so a link planted in the media folder cannot expose the rest of the disk. Reading needs a
signed-in `User`, so no code path can hand out media without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fallwatch.core.errors import FallWatchError
from fallwatch.dashboard.users import User

SUFFIXES = frozenset({".jpg", ".jpeg", ".mp4"})  # evidence and camera frames; nothing else is ever served
MAX_BYTES = 200 * 1024 * 1024  # a clip is a few MB; anything larger is not ours


class MediaRefused(FallWatchError):
    """A media path that is not a file inside the media root."""


@dataclass(frozen=True, slots=True)
class MediaRoot:
    root: Path

    def resolve(self, relative: str) -> Path:
        """The file `relative` names inside the root; MediaRefused for anything that would leave it."""
        if not relative or "\x00" in relative or "\\" in relative or re.match(r"^[A-Za-z]:", relative):
            raise MediaRefused(f"media path {relative!r}: expected a path relative to the media root")
        pure = PurePosixPath(relative)
        if pure.is_absolute():
            raise MediaRefused(f"media path {relative!r}: absolute paths are refused")
        if ".." in pure.parts:
            raise MediaRefused(f"media path {relative!r}: '..' is refused")
        if pure.suffix.lower() not in SUFFIXES:
            raise MediaRefused(
                f"media path {relative!r}: only {', '.join(sorted(SUFFIXES))} files are served"
            )
        root = self.root.resolve()
        resolved = (root / pure).resolve()  # follows every symlink on the way
        if not resolved.is_relative_to(root):
            raise MediaRefused(f"media path {relative!r}: leads outside the media root")
        return resolved

    def read(self, relative: str | None, user: User) -> bytes | None:
        """The bytes of an evidence file for a signed-in user; None when there is none (not recorded, or
        deleted by retention); MediaRefused when the path is not allowed."""
        del user  # required, not used: the signature is the check that someone signed in
        if relative is None:
            return None
        path = self.resolve(relative)
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_BYTES:
            raise MediaRefused(f"media path {relative!r}: larger than {MAX_BYTES // 2**20} MB")
        return path.read_bytes()
