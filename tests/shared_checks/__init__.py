"""Checks shared by image suites and role tests (Molecule); each takes testinfra's `host`."""
