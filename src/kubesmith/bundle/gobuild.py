"""Go builds inside generated wrapper modules, with progress and clear failures.

Many upstream projects cannot be built with a plain ``go install pkg@version``
(local ``replace`` directives, staging modules, dependencies missing from the
proxy). A wrapper module requires the project at the pinned version and
carries the ``replace`` lines a release build needs; ``go build`` then fetches
everything from the module proxy.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubesmith import log
from kubesmith.errors import KubesmithError
from kubesmith.proc import run, tail

GO_DIRECTIVE = "1.26"
HEARTBEAT_SECONDS = 60.0


@dataclass(frozen=True)
class GoBuild:
    """One Go component: the wrapper module and the binaries built from it."""

    requires: dict[str, str]
    binaries: dict[str, str]
    ldflags: str = "-s -w"
    tags: str = ""
    cgo: bool = False
    replaces: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    buildmode: str = ""
    # Extra build tags for single binaries (built on their own), binary -> tags.
    binary_tags: dict[str, str] = field(default_factory=dict)

    def go_mod(self, name: str) -> str:
        lines = [f"module kubesmith.local/bundle/{name}", "", f"go {GO_DIRECTIVE}", ""]
        lines += ["require ("] + [f"\t{m} {v}" for m, v in sorted(self.requires.items())] + [")"]
        if self.replaces:
            lines += ["", "replace ("]
            lines += [f"\t{m} => {target}" for m, target in sorted(self.replaces.items())]
            lines += [")"]
        return "\n".join(lines) + "\n"


def go_env(extra: dict[str, str] | None = None, cgo: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GOTOOLCHAIN": "local",
            "GOFLAGS": "-mod=mod -buildvcs=false",
            "CGO_ENABLED": "1" if cgo else "0",
        }
    )
    env.update(extra or {})
    return env


@functools.cache
def require_go() -> None:
    """Stop early, naming the fix, when no Go toolchain new enough is installed.

    Checked once per process: every module download and build asks."""
    found = shutil.which("go")
    if found is None:
        raise KubesmithError(
            f"building the bundle needs Go {GO_DIRECTIVE} or newer and `go` is not on PATH: "
            "install it (go.dev/dl, or your distribution's golang package)"
        )
    version = run([found, "env", "GOVERSION"], what="read the Go version").stdout.strip()
    if not go_at_least(version, GO_DIRECTIVE):
        raise KubesmithError(
            f"building the bundle needs Go {GO_DIRECTIVE} or newer; {found} is {version}"
        )


def go_at_least(version: str, minimum: str) -> bool:
    """``go_at_least("go1.26.8", "1.26")`` -> True."""
    match = re.match(r"go(\d+)\.(\d+)", version)
    if match is None:
        return False
    wanted = tuple(int(p) for p in minimum.split(".")[:2])
    return (int(match[1]), int(match[2])) >= wanted


def module_dir(module: str, version: str) -> Path:
    """Download one module into the module cache and return its directory."""
    require_go()
    result = run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        what=f"download Go module {module}@{version}",
        env=go_env(),
        cwd=Path("/"),
    )
    info = json.loads(result.stdout)
    return Path(info["Dir"])


def _stream(argv: list[str], cwd: Path, env: dict[str, str], component: str) -> None:
    """Run a long build, printing a heartbeat; on failure show the output's tail."""
    started = time.monotonic()
    log_path = cwd / "build.log"
    with log_path.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        last = started
        while proc.poll() is None:
            time.sleep(1)
            if time.monotonic() - last >= HEARTBEAT_SECONDS:
                last = time.monotonic()
                log.info(f"{component}: still building ({last - started:.0f}s)")
    if proc.returncode != 0:
        raise KubesmithError(
            f"building {component} failed (`{' '.join(argv[:3])} ...` exited "
            f"{proc.returncode}); last lines of {log_path}:\n{tail(log_path.read_text(), 30)}"
        )


def build(name: str, spec: GoBuild, workdir: Path, outdir: Path) -> None:
    """Build every binary of ``spec`` into ``outdir``."""
    require_go()
    workdir.mkdir(parents=True, exist_ok=True)
    outdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text(spec.go_mod(name))
    env = go_env(spec.env, spec.cgo)

    def args(tags: str) -> list[str]:
        cmd = ["go", "build", "-trimpath", "-ldflags", spec.ldflags]
        if tags.strip():
            cmd += ["-tags", tags.strip()]
        if spec.buildmode:
            cmd += [f"-buildmode={spec.buildmode}"]
        return cmd

    together = {
        b: p
        for b, p in spec.binaries.items()
        if _default_name(p) == b and b not in spec.binary_tags
    }
    if together:
        _stream([*args(spec.tags), "-o", f"{outdir}/", *together.values()], workdir, env, name)
    for binary, package in spec.binaries.items():
        if binary not in together:
            tags = f"{spec.tags} {spec.binary_tags.get(binary, '')}"
            _stream([*args(tags), "-o", str(outdir / binary), package], workdir, env, name)


def _default_name(package: str) -> str:
    """The file name ``go build -o DIR/`` gives a main package."""
    parts = package.split("/")
    last = parts[-1]
    if len(parts) > 1 and last.startswith("v") and last[1:].isdigit():
        return parts[-2]
    return last
