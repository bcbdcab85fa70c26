"""FallWatch: fall and fainting detection for CCTV.

The layers live in the repository's top-level folders (core, ingest, detectors, recognizer, alerts, training,
dashboard, app); this package only gathers them under one name, so that an installed FallWatch adds a single
`fallwatch` to site-packages instead of eight generic top-level names. Its entries are links to those folders.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fallwatch")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0"
