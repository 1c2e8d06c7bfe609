"""Registry settings: bakery.yml, BAKERY_REGISTRY and --registry; references by digest."""

import pytest

from bakery.config import parse_project
from bakery.errors import ConfigError, ExitStatus
from bakery.registry import REGISTRY_ENV, attestation_tag, registry_for, split_digest_ref

BASE = """
bases: {debian-12: {packages: [python3]}}
services: {web: {playbook: playbooks/web.yml, base: debian-12}}
"""
DIGEST = "sha256:" + "a" * 64


def test_registry_settings_from_bakery_yml(monkeypatch):
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    project = parse_project(BASE + "registry: {url: 'reg.example:5000/team', tls_verify: false}\n", source="bakery.yml")
    found = registry_for(project)
    assert (found.url, found.tls_verify, found.host) == ("reg.example:5000/team", False, "reg.example:5000")
    assert found.flags("dest-") == ["--dest-tls-verify=false"]
    assert registry_for(parse_project(BASE, source="bakery.yml")) is None


def test_flag_then_environment_override_the_file(monkeypatch):
    project = parse_project(BASE + "registry: {url: file.example/team}\n", source="bakery.yml")
    monkeypatch.setenv(REGISTRY_ENV, "env.example/team")
    assert registry_for(project).url == "env.example/team"
    assert registry_for(project, "flag.example/team").url == "flag.example/team"
    assert registry_for(project).tls_verify is True  # tls_verify still comes from the file


def test_a_bad_url_names_the_field():
    with pytest.raises(ConfigError, match="registry.url"):
        parse_project(BASE + "registry: {url: 'https://reg.example/team'}\n", source="bakery.yml")


def test_deploy_references_must_be_by_digest():
    assert split_digest_ref(f"reg.example/team/web@{DIGEST}") == ("reg.example/team/web", DIGEST)
    with pytest.raises(ConfigError, match="not a reference by digest"):
        split_digest_ref("reg.example/team/web:abc123")
    assert attestation_tag(DIGEST) == "sha256-" + "a" * 64 + ".att"


def test_a_registry_layer_cache_without_a_registry_stops_the_build_before_it_starts(cli, fixture_project, monkeypatch):
    import yaml

    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    config = fixture_project / "bakery.yml"
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "build": {"cache": "registry"}}))
    result = cli("-C", fixture_project, "build", "tiny")
    assert result.rc == ExitStatus.CONFIG and "no registry is set" in result.err
    assert not (fixture_project / ".bakery" / "runs").exists()


def test_bakery_build_cache_overrides_build_cache_and_is_checked(cli, fixture_project, monkeypatch):
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    monkeypatch.setenv("BAKERY_BUILD_CACHE", "registry")  # as the example pipelines set it
    result = cli("-C", fixture_project, "build", "tiny")
    assert result.rc == ExitStatus.CONFIG and "no registry is set" in result.err
    monkeypatch.setenv("BAKERY_BUILD_CACHE", "remote")
    result = cli("-C", fixture_project, "build", "tiny")
    assert result.rc == ExitStatus.CONFIG
    assert "BAKERY_BUILD_CACHE='remote' is not a layer cache (set it to local or registry, or unset it)" in result.err
    assert not (fixture_project / ".bakery" / "runs").exists()
