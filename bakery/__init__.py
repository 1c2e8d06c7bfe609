"""bakery: bake Ansible roles into verified, immutable machine images."""

__version__ = "0.1.0"  # the package version too (pyproject.toml reads it from here)
