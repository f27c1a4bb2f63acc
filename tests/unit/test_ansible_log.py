"""The failure summary reads logs that real ansible-playbook runs wrote."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from kubesmith.ansible_log import failures, main

BIN = Path(sys.executable).parent


def _play(tasks: list[dict]) -> list[dict]:
    return [{"name": "Probe", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def _cmd(name: str, code: int, **extra: object) -> dict:
    return {
        "name": name,
        "ansible.builtin.command": f"sh -c 'echo out-{name}; exit {code}'",
        "changed_when": False,
        **extra,
    }


def _run(tmp_path: Path, log: Path, tasks: list[dict]) -> int:
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump(_play(tasks)))
    env = {**os.environ, "ANSIBLE_LOG_PATH": str(log), "ANSIBLE_NOCOLOR": "1"}
    argv = [
        str(BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(book),
    ]
    return subprocess.run(argv, env=env, capture_output=True, check=False).returncode


def test_only_unignored_failures_of_the_failed_run(tmp_path: Path) -> None:
    log = tmp_path / "ansible.log"
    failed = [
        _cmd("passes", 0),
        _cmd("ignored", 1, ignore_errors=True),
        {**_cmd("looped", 0), "ansible.builtin.command": "sh -c 'exit {{ item }}'"}
        | {"loop": [0, 4], "ignore_errors": True},
        _cmd("breaks", 3),
    ]
    assert _run(tmp_path, log, failed) == 2
    # A later run that passes, as the tests' own playbook runs do, is not it.
    assert _run(tmp_path, log, [_cmd("later", 0)]) == 0

    found = "\n".join(failures(log.read_text()))

    assert "TASK [breaks]" in found
    assert "fatal: [localhost]: FAILED!" in found
    assert "out-breaks" in found
    assert "rc: 3" in found
    for quiet in ("passes", "ignored", "looped", "later"):
        assert f"TASK [{quiet}]" not in found


def test_a_log_without_failures_says_so(tmp_path: Path, capsys) -> None:
    log = tmp_path / "ansible.log"
    assert _run(tmp_path, log, [_cmd("fine", 0), _cmd("ignored", 1, ignore_errors=True)]) == 0

    assert failures(log.read_text()) == []
    assert main([str(log)]) == 0
    assert "no failed Ansible task" in capsys.readouterr().out


def test_missing_log_is_named(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "absent.log")]) == 1
    assert "absent.log" in capsys.readouterr().err
