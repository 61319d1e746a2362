"""The binding's version: the libanthem version it was written for.

pyproject.toml reads it (as the package's version) without importing the
package, and _lib.py refuses a library of another major version.  Keep it
equal to project(version:) in meson.build: tests/install-test.sh checks.
"""
__version__ = "0.1.0"
