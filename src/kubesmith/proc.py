"""Running external commands with errors that show what failed."""

import subprocess
from collections.abc import Sequence
from pathlib import Path

from kubesmith.errors import KubesmithError

_TAIL_LINES = 20


def tail(text: str, lines: int = _TAIL_LINES) -> str:
    """The last lines of a command's output, for error messages."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    cmd: Sequence[str | Path],
    *,
    what: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on failure raise with its output's tail.

    ``what`` says in a few words what the command is for, so the error reads
    "could not <what>" instead of a bare exit status.
    """
    args = [str(c) for c in cmd]
    try:
        result = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise KubesmithError(
            f"could not {what}: {args[0]} is not installed (run `make setup`)"
        ) from exc
    if check and result.returncode != 0:
        output = tail(result.stderr + result.stdout)
        raise KubesmithError(
            f"could not {what}: `{' '.join(args)}` exited {result.returncode}\n{output}"
        )
    return result
