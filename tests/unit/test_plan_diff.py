"""What `bakery plan` says changed: diff_inputs on in-memory fingerprint inputs."""

from bakery.plan import diff_inputs


def item(kind, name, digest, **parts):
    return {"kind": kind, "name": name, "digest": digest, **({"parts": parts} if parts else {})}


def test_nothing_changed_says_nothing():
    inputs = [item("role", "nginx", "d1", **{"tasks/main.yml": "x"}), item("tool", "packer", "1.6.6")]
    assert diff_inputs(inputs, list(reversed(inputs))) == []


def test_names_the_files_and_variables_that_changed():
    before = [item("role", "nginx", "d1", **{"tasks/main.yml": "a", "templates/site.j2": "b", "gone.yml": "c"}),
              item("variables", "service", "v1", app_version="1.0.0", app_port="8080")]
    after = [item("role", "nginx", "d2", **{"tasks/main.yml": "a", "templates/site.j2": "B", "new.yml": "n"}),
             item("variables", "service", "v2", app_version="1.0.1", app_port="8080")]
    assert diff_inputs(before, after) == ["role nginx: files gone.yml, new.yml, templates/site.j2",
                                          "variables app_version"]


def test_added_removed_tools_and_base():
    before = [item("role", "old", "r"), item("tool", "ansible-core", "2.16.3"), item("base", "debian-12", "b1")]
    after = [item("role", "new", "r"), item("tool", "ansible-core", "2.17.0"), item("base", "debian-12", "b2")]
    assert diff_inputs(before, after) == ["base image", "role new: added", "role old: removed",
                                          "tool ansible-core: 2.16.3 -> 2.17.0"]


def test_a_changed_digest_without_parts_still_shows():
    assert diff_inputs([item("template", "packer", "t1")], [item("template", "packer", "t2")]) == ["template packer"]
