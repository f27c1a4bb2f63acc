"""`kubesmith map`: read the cluster, find problems, write the picture, list the problems."""

import sys
from pathlib import Path

from kubesmith import log
from kubesmith.errors import KubesmithError
from kubesmith.inventory import load_raw
from kubesmith.netmap import render
from kubesmith.netmap.checks import find_problems
from kubesmith.netmap.collect import collect
from kubesmith.netmap.model import ClusterMap, Problem
from kubesmith.netmap.targets import map_target

FORMATS = ("svg", "html", "json", "text")
SUFFIXES = {".svg": "svg", ".html": "html", ".htm": "html", ".json": "json", ".txt": "text"}
# Exit status of `--strict` when the map shows problems (1 is an error, 2 a usage error).
EXIT_PROBLEMS = 3


def output_format(requested: str | None, output: Path | None) -> str:
    """--format when given, else what the output file's suffix says, else text."""
    if requested:
        return requested
    if output is None:
        return "text"
    try:
        return SUFFIXES[output.suffix.lower()]
    except KeyError:
        known = ", ".join(SUFFIXES)
        raise KubesmithError(
            f"cannot tell the format of {output} from its suffix ({known}): add --format"
        ) from None


def rendered(model: ClusterMap, problems: list[Problem], form: str) -> str:
    if form == "json":
        return render.as_json(model, problems)
    if form == "text":
        return render.text(model, problems)
    picture = render.svg(render.dot(model, problems))
    return picture if form == "svg" else render.html_page(model, problems, picture)


def run_map(
    inventory: Path,
    output: Path | None,
    requested: str | None,
    kubeconfig: Path | None,
    strict: bool,
) -> int:
    form = output_format(requested, output)
    target = map_target(load_raw(inventory), inventory)
    log.info(
        f"reading cluster {target.cluster}: {len(target.nodes)} nodes over SSH, "
        f"the API with {kubeconfig or target.kubeconfig}"
    )
    model = collect(target, kubeconfig)
    problems = find_problems(model)
    content = rendered(model, problems, form)
    if output is None:
        sys.stdout.write(content)
        if form != "text":
            for problem in problems:
                print(f"kubesmith: problem: {problem.message}", file=sys.stderr)
    else:
        output.write_text(content, encoding="utf-8")
        counted = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        print(f"kubesmith: wrote {output} ({len(model.nodes)} nodes, {counted})")
        for problem in problems:
            print(f"problem: {problem.message}")
    return EXIT_PROBLEMS if strict and problems else 0
