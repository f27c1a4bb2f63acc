"""The controller-side key file for encryption at rest
(roles/control_plane/library/kubesmith_encryption_keys.py): one key made once,
rotation in three steps that each happen once, and dropping a key refused
until everything was rewritten with the one that stays."""

import base64
import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "roles/control_plane/library"
spec = importlib.util.spec_from_file_location(
    "kubesmith_encryption_keys", LIBRARY / "kubesmith_encryption_keys.py"
)
assert spec and spec.loader
keys_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(keys_module)
BIN = Path(sys.executable).parent


def step(path: Path, name: str, *, check: bool = False, **params: str) -> dict:
    """Run the module as Ansible runs it; return its JSON result."""
    args = " ".join(f"{k}={v}" for k, v in {"path": path, "step": name, **params}.items())
    result = subprocess.run(
        [BIN / "ansible", "localhost", "-m", "kubesmith_encryption_keys", "-a", args, "-o"]
        + (["--check"] if check else []),
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_LIBRARY": str(LIBRARY), "ANSIBLE_LOCALHOST_WARNING": "0"},
        check=False,
    )
    # One line: "localhost | CHANGED => {...}" or "localhost | FAILED! => {...}".
    status, _, body = result.stdout.partition(" => ")
    outcome = json.loads(body)
    outcome["status"] = status.split("|")[1].strip()
    outcome["stdout"] = result.stdout
    return outcome


def stored(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())["keys"]


def test_one_key_made_once_private_and_never_shown(tmp_path):
    path = tmp_path / "encryption/keys.yml"
    first = step(path, "ensure")
    assert first["status"] == "CHANGED"
    keys = stored(path)
    assert len(keys) == 1 and keys[0]["provider"] == "secretbox"
    assert len(base64.b64decode(keys[0]["secret"], validate=True)) == 32
    assert keys[0]["secret"] not in first["stdout"]
    assert first["encryption_keys"] == [{"name": keys[0]["name"], "provider": "secretbox"}]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = step(path, "ensure", provider="aescbc")
    assert again["status"] == "SUCCESS"
    assert stored(path) == keys


def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "keys.yml"
    assert step(path, "ensure", check=True)["status"] == "CHANGED"
    assert not path.exists()
    assert step(path, "read")["encryption_keys"] == []


def test_rotation_steps_each_happen_once():
    apply = keys_module.apply_step
    keys = apply("ensure", None, "secretbox", "")
    old = keys[0]
    keys = apply("add", keys, "aescbc", "")
    new = keys[1]
    assert keys == [old, new]
    assert new["provider"] == "aescbc" and new["secret"] != old["secret"]
    # Resuming an interrupted rotation: the key is not added twice.
    assert apply("add", keys, "secretbox", "") == keys
    keys = apply("promote", keys, "secretbox", "")
    assert keys == [new, old]
    assert apply("promote", keys, "secretbox", "") == keys
    assert apply("add", keys, "secretbox", "") == keys
    keys = apply("drop", keys, "secretbox", new["name"])
    assert keys == [new]
    assert apply("drop", keys, "secretbox", new["name"]) == keys
    # A completed rotation is followed by a new one.
    assert len(apply("add", keys, "secretbox", "")) == 2


@pytest.mark.parametrize("record", ["nothing", "old key"])
def test_drop_refused_until_rewritten_with_the_key_that_stays(record):
    """Negative control: with objects last rewritten with the old key (or no
    record at all), dropping it would make them unreadable."""
    apply = keys_module.apply_step
    keys = apply("ensure", None, "secretbox", "")
    keys = apply("promote", apply("add", keys, "secretbox", ""), "secretbox", "")
    with pytest.raises(ValueError, match="would become unreadable"):
        apply("drop", keys, "secretbox", keys[1]["name"] if record == "old key" else "")


def test_refusal_reaches_the_operator_and_leaves_the_file(tmp_path):
    path = tmp_path / "keys.yml"
    step(path, "ensure")
    keys_module.save(path, keys_module.apply_step("add", stored(path), "secretbox", ""))
    before = path.read_text()
    refused = step(path, "drop", rewritten_with='""')
    assert refused["status"] == "FAILED!"
    assert "would become unreadable" in refused["msg"]
    assert path.read_text() == before


def test_steps_other_than_ensure_need_a_key(tmp_path):
    refused = step(tmp_path / "keys.yml", "add")
    assert refused["status"] == "FAILED!"
    assert "run playbooks/cluster.yml" in refused["msg"]


def test_new_keys_get_fresh_names_and_material():
    keys = [keys_module.new_key([], "secretbox")]
    for _ in range(3):
        keys.append(keys_module.new_key(keys, "secretbox"))
    assert len({k["name"] for k in keys}) == len(keys)
    assert len({k["secret"] for k in keys}) == len(keys)
    assert [k["serial"] for k in keys] == [1, 2, 3, 4]
