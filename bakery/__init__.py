"""bakery: bake Ansible roles into verified, immutable machine images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bakery")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"
