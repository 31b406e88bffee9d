"""casstore: a content-addressed, git-like store for music-tracker project bundles.

The library (no click, no Kivy). Front ends use :mod:`casstore.api`; the modules are
listed in docs/architecture.md. Importing this package loads nothing heavy, so the
command line starts fast.
"""

__version__ = "0.1.0"
