"""Role common on a Molecule instance: hardened sshd, admins with sudo, host key regeneration."""

from contextlib import contextmanager

from shared_checks import checks


@contextmanager
def temporary_user(host, name: str, *groups: str):
    group_args = f"--groups {','.join(groups)}" if groups else ""
    host.check_output(f"useradd --create-home {group_args} {name}")
    try:
        yield name
    finally:
        host.run(f"userdel --remove {name}")


def test_sshd_refuses_root_and_passwords(host):
    checks.assert_sshd_hardened(host)


def test_running_sshd_offers_publickey_only(host):
    checks.assert_service_up(host, "ssh")
    checks.assert_sshd_offers_publickey_only(host)


def test_admins_sudo_rule_is_valid(host):
    checks.assert_group_sudo_rule(host, "admins")
    assert host.run("visudo --check --quiet").rc == 0


def test_admins_sudo_without_password_and_others_cannot(host):
    with temporary_user(host, "molecule-admin", "admins"), temporary_user(host, "molecule-user"):
        assert host.run("runuser -u molecule-admin -- sudo --non-interactive true").rc == 0
        assert host.run("runuser -u molecule-user -- sudo --non-interactive true").rc != 0

