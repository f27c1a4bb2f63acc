"""Building components into the cache, one at a time, with progress."""

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from kubesmith import log
from kubesmith.bundle.components import COMPONENTS, Component, VersionCheck, Versions
from kubesmith.bundle.versions import bare
from kubesmith.errors import KubesmithError
from kubesmith.paths import cache_dir


def bundle_dir() -> Path:
    return cache_dir() / "bundle"


def kubectl_path() -> Path:
    """The bundle's kubectl, for use on the controller."""
    from kubesmith.bundle.versions import load

    version = load()["kube_version"]
    return bundle_dir() / f"files/dl.k8s.io/release/{version}/bin/linux/amd64/kubectl"


def component_key(component: Component, versions: Versions) -> str:
    digest = hashlib.sha256(component.recipe(versions).encode()).hexdigest()[:12]
    return f"{component.name}-{versions[component.version_var]}-{digest}"


def run_check(check: VersionCheck, outdir: Path, version: str) -> str:
    """Run a built binary's version command; return the problem, or '' if it matches."""
    expected = check.expect.format(v=version, bare=bare(version))
    result = subprocess.run(
        [outdir / check.binary, *check.args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    if expected not in output:
        return (
            f"`{check.binary} {' '.join(check.args)}` printed {output[:200]!r}, "
            f"expected it to contain {expected!r}"
        )
    return ""


def ensure_component(component: Component, versions: Versions) -> Path:
    """The component's build output directory, building it on a cache miss."""
    version = versions[component.version_var]
    target = bundle_dir() / "build" / component_key(component, versions)
    if (target / "build.json").exists():
        log.info(f"{component.name} {version}: cached")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(f"{component.name} {version}: building")
    started = time.monotonic()
    work = bundle_dir() / "work" / component.name
    shutil.rmtree(work, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        outdir = Path(tmp)
        component.build(versions, work, outdir)
        problems = [p for c in component.checks if (p := run_check(c, outdir, version))]
        if problems:
            raise KubesmithError(f"{component.name} {version} built but: " + "; ".join(problems))
        seconds = time.monotonic() - started
        (outdir / "build.json").write_text(
            json.dumps(
                {
                    "component": component.name,
                    "version": version,
                    "seconds": round(seconds, 1),
                    "key": target.name,
                },
                indent=2,
            )
            + "\n"
        )
        outdir.rename(target)
        outdir.mkdir()
    shutil.rmtree(work, ignore_errors=True)
    log.info(f"{component.name} {version}: built in {seconds:.0f}s")
    return target


def build_components(versions: Versions, only: set[str] | None = None) -> dict[str, Path]:
    names = {c.name for c in COMPONENTS}
    unknown = (only or set()) - names
    if unknown:
        raise KubesmithError(
            f"unknown component(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}"
        )
    return {
        c.name: ensure_component(c, versions) for c in COMPONENTS if only is None or c.name in only
    }


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def build_bundle(versions: Versions, only: set[str] | None = None) -> dict[str, object]:
    """Components, then the upstream-shaped files, then the images; return a summary."""
    from kubesmith.bundle import images, publish
    from kubesmith.bundle.oci import Layout

    started = time.monotonic()
    outputs = build_components(versions, only)
    if only is not None:
        return {"components": sorted(outputs)}
    files_root = bundle_dir() / "files"
    published = publish.publish(outputs, files_root, versions)
    log.info(f"files: {len(published)} published under {files_root}")
    layout = Layout(bundle_dir() / "oci")
    specs = images.image_specs(versions, outputs, bundle_dir() / "work" / "images")
    built = images.build_images(layout, specs)
    layout.keep_only(set(built))
    images.write_checks(bundle_dir() / "image-checks.json", images.programs(versions))
    summary: dict[str, object] = {
        "source": "build",
        "versions": versions,
        "files": [str(p.relative_to(files_root)) for p in published],
        "images": built,
        "files_bytes": tree_size(files_root),
        "images_bytes": layout.image_bytes(),
        "seconds": round(time.monotonic() - started, 1),
    }
    (bundle_dir() / "bundle.json").write_text(json.dumps(summary, indent=2) + "\n")
    mib = (int(summary["files_bytes"]) + int(summary["images_bytes"])) / 2**20  # type: ignore[call-overload]
    log.info(
        f"bundle ready in {summary['seconds']}s: {len(built)} images, "
        f"{len(published)} files, {mib:.0f} MiB"
    )
    return summary
