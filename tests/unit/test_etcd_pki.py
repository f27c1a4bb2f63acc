"""The etcd role's PKI on the controller: issued once, a re-run that finds it as
the last issue left it starts no crypto module, and a change to its files or
inputs issues again. Runs the role's pki.yml on this machine (connection local)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography import x509

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ISSUE_TASK = "TASK [etcd : CA key]"

PLUGIN = REPO / "roles/etcd/filter_plugins/files.py"
spec = importlib.util.spec_from_file_location("kubesmith_files", PLUGIN)
assert spec and spec.loader
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)

INVENTORY = f"""
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: {sys.executable}
  children:
    etcd:
      hosts:
        etcd1: {{ansible_host: 192.168.60.10}}
    control_plane:
      hosts:
        cp1: {{ansible_host: 192.168.60.11}}
    workers:
      hosts: {{}}
    k8s_cluster:
      children:
        control_plane:
        workers:
"""

PLAY = [
    {
        "name": "The etcd PKI",
        "hosts": "etcd",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Issue",
                "ansible.builtin.include_role": {"name": "etcd", "tasks_from": "pki.yml"},
            }
        ],
    }
]


def issue(tmp_path: Path, *extra: str) -> str:
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    (tmp_path / "pki.yml").write_text(yaml.safe_dump(PLAY))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_NOCOLOR": "1",
    }
    argv = [BIN / "ansible-playbook", "-i", tmp_path / "hosts.yml", tmp_path / "pki.yml"]
    argv += ["-e", f"etcd_pki_local_dir={tmp_path / 'pki'}", *extra]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def changed(output: str) -> int:
    return int(re.search(r"changed=(\d+)", output.split("PLAY RECAP")[-1]).group(1))


def server_addresses(pki: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate((pki / "etcd1-server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(str(a) for a in names.get_values_for_type(x509.IPAddress))


def test_issued_once_then_left_alone_until_it_changes(tmp_path):
    pki = tmp_path / "pki"
    first = issue(tmp_path)
    assert ISSUE_TASK in first and changed(first) > 0
    assert server_addresses(pki) == ["127.0.0.1", "192.168.60.10"]

    again = issue(tmp_path)
    assert ISSUE_TASK not in again and changed(again) == 0

    # Negative control: a lost certificate and a member's new address each
    # send the run through the issuing tasks again.
    (pki / "healthcheck-client.crt").unlink()
    moved = ("-e", "kube_node_ip=192.168.60.12")
    reissued = issue(tmp_path, *moved)
    assert ISSUE_TASK in reissued and changed(reissued) > 0
    assert (pki / "healthcheck-client.crt").is_file()
    assert server_addresses(pki) == ["127.0.0.1", "192.168.60.12"]

    settled = issue(tmp_path, *moved)
    assert ISSUE_TASK not in settled and changed(settled) == 0


def test_the_digest_follows_presence_mode_and_content(tmp_path):
    key = tmp_path / "ca.key"
    paths = [str(tmp_path), str(key)]
    missing = files.files_digest(paths)
    key.write_text("one")
    key.chmod(0o600)
    written = files.files_digest(paths)
    key.chmod(0o644)
    opened = files.files_digest(paths)
    key.write_text("two")
    rewritten = files.files_digest(paths)
    assert len({missing, written, opened, rewritten}) == 4
    assert files.files_digest(paths) == rewritten
