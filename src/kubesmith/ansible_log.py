"""What failed in an Ansible log (ANSIBLE_LOG_PATH), for the end of a long CI log.

Ansible writes one record per display line: ``<date> <time> p=<pid> u=<user>
n=ansible <LEVEL>| <text>``, continued on lines without that header. Several
ansible-playbook runs may share one log (molecule's converge, idempotence and
the tests' own playbook runs); the failures shown are those of the last run
whose recap counts a failed or unreachable host, with the task each belongs to.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path

_HEADER = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ p=(?P<pid>\d+) u=\S+ n=\S+ (?P<level>\w+)\| ")
_RECAP = re.compile(r"^\S+\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)")
_RESULT = ("fatal: [", "failed: [")


@dataclass(frozen=True)
class Record:
    pid: str
    level: str
    text: str


def records(log: str) -> list[Record]:
    # (pid, level, lines): a record's continuation lines are gathered, then joined once.
    parts: list[tuple[str, str, list[str]]] = []
    for line in log.splitlines():
        match = _HEADER.match(line)
        if match:
            parts.append((match["pid"], match["level"], [line[match.end() :]]))
        elif parts:
            parts[-1][2].append(line)
    return [Record(pid, level, "\n".join(lines)) for pid, level, lines in parts]


def _failed_run(recs: list[Record]) -> str | None:
    failed = None
    for rec in recs:
        match = _RECAP.match(rec.text)
        if match and (int(match[1]) or int(match[2])):
            failed = rec.pid
    return failed


def _sections(run: list[Record]) -> list[tuple[str, list[Record]]]:
    """The run's records split at each task header: (header, records after it)."""
    out: list[tuple[str, list[Record]]] = [("", [])]
    for rec in run:
        if rec.text.startswith(("TASK [", "RUNNING HANDLER [", "PLAY [")):
            out.append((rec.text.rstrip(" *"), []))
        else:
            out[-1][1].append(rec)
    return out


def failures(log: str) -> list[str]:
    """The task headers and failure records of the last run that failed.

    A task whose failures Ansible ignored is left out. Where a task has a
    host's result, that is shown; Ansible's [ERROR] summary only where none is
    (an error outside any host's result, such as an undefined variable).
    """
    recs = records(log)
    pid = _failed_run(recs)
    if pid is None:
        return []
    shown: list[str] = []
    for header, section in _sections([r for r in recs if r.pid == pid]):
        if any(r.text.startswith("...ignoring") for r in section):
            continue
        results = [r.text.rstrip() for r in section if r.text.startswith(_RESULT)]
        errors = [r.text.rstrip() for r in section if r.text.startswith("[ERROR]")]
        found = results or errors
        if found:
            shown.extend([header, *found] if header else found)
    return shown


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kubesmith.ansible_log ANSIBLE_LOG", file=sys.stderr)
        return 2
    path = Path(argv[0])
    if not path.is_file():
        print(f"no Ansible log at {path}", file=sys.stderr)
        return 1
    found = failures(path.read_text(errors="replace"))
    print("\n".join(found) if found else f"no failed Ansible task in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
