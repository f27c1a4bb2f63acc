"""The kubesmith command line: small verbs over providers and bundles."""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from kubesmith.errors import KubesmithError
from kubesmith.inventory import DEFAULT_INVENTORY, LocalSpec, load_local
from kubesmith.local import provider


def _nodes_list(spec: LocalSpec, _: argparse.Namespace) -> int:
    rows = [("NAME", "ADDRESS", "STATE", "GROUPS"), *provider.status(spec)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _nodes_ssh(spec: LocalSpec, args: argparse.Namespace) -> int:
    argv = provider.ssh_argv(spec, args.name, args.command)
    os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with ssh, as intended


def _with_name(action: Callable[[LocalSpec, str], None]) -> Callable[..., int]:
    def verb(spec: LocalSpec, args: argparse.Namespace) -> int:
        action(spec, args.name)
        return 0

    return verb


def _whole(action: Callable[[LocalSpec], None]) -> Callable[..., int]:
    def verb(spec: LocalSpec, _: argparse.Namespace) -> int:
        action(spec)
        return 0

    return verb


NODE_VERBS: dict[str, Callable[[LocalSpec, argparse.Namespace], int]] = {
    "create": _whole(provider.create),
    "image": _whole(provider.prepare_image),
    "delete": _whole(provider.delete),
    "list": _nodes_list,
    "ssh": _nodes_ssh,
    "stop": _with_name(provider.stop),
    "start": _with_name(provider.start),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kubesmith", description=__doc__)
    top.add_argument(
        "-i",
        "--inventory",
        type=Path,
        default=Path(os.environ.get("KUBESMITH_INVENTORY", str(DEFAULT_INVENTORY))),
        help="inventory directory or file (default: inventory/local, or $KUBESMITH_INVENTORY)",
    )
    groups = top.add_subparsers(dest="group", required=True)
    nodes = groups.add_parser("nodes", help="local system-container nodes").add_subparsers(
        dest="verb", required=True
    )
    nodes.add_parser("create", help="create and boot every inventory host; wait for SSH")
    nodes.add_parser(
        "image", help="build the node image for the inventory's release (cached; create uses it)"
    )
    nodes.add_parser("delete", help="remove the nodes, their bridge and firewall rules")
    nodes.add_parser("list", help="show each inventory host and its state")
    for verb, text in (("stop", "power a node off"), ("start", "boot a stopped node")):
        nodes.add_parser(verb, help=text).add_argument("name")
    ssh = nodes.add_parser("ssh", help="open a shell (or run a command) on a node")
    ssh.add_argument("name")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    bundle = groups.add_parser("bundle", help="the offline bundle").add_subparsers(
        dest="verb", required=True
    )
    build = bundle.add_parser("build", help="build every pinned binary and image (cached)")
    build.add_argument(
        "--only",
        action="append",
        metavar="COMPONENT",
        help="build only this component (repeatable); skips files and images",
    )
    _bundle_parsers(bundle)
    mirror = groups.add_parser("mirror", help="serve the bundle to nodes").add_subparsers(
        dest="verb", required=True
    )
    serve = mirror.add_parser("serve", help="file server + registry; push every image")
    serve.add_argument(
        "--address", help="listen address (default: the inventory's local_nodes_gateway)"
    )
    stop = mirror.add_parser("stop", help="stop the file server and registry")
    stop.add_argument("--address", help="only the instance on this address (default: all)")
    vm = groups.add_parser("vagrant", help="Vagrant VMs").add_subparsers(dest="verb", required=True)
    vm_inventory = vm.add_parser(
        "inventory", help="write the running VMs' SSH settings into the inventory (vagrant-ssh.yml)"
    )
    vm_inventory.add_argument(
        "--root", type=Path, default=Path(), help="directory of the Vagrantfile (default: .)"
    )
    _map_parser(groups)
    return top


def _upstream_options(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--files-base",
        default="https://",
        metavar="URL",
        help="base URL of the download sites, laid out as https://dl.k8s.io/... and "
        "https://github.com/... are (default: https://, the real sites)",
    )
    verb.add_argument(
        "--registry-map",
        action="append",
        default=[],
        metavar="REGISTRY=ENDPOINT",
        help="pull REGISTRY's images (registry.k8s.io, docker.io) from ENDPOINT instead, "
        "e.g. docker.io=https://registry.example.org; http:// for a plain-HTTP one "
        "(repeatable)",
    )


def _bundle_parsers(bundle: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    fetch = bundle.add_parser(
        "fetch",
        help="download upstream's official release files and images, checksum-verified (resumable)",
    )
    _upstream_options(fetch)
    ensure = bundle.add_parser(
        "ensure",
        help="use the existing bundle, else fetch when upstream answers, else build "
        "(KUBESMITH_BUNDLE=fetch|build forces); says which and why",
    )
    _upstream_options(ensure)
    export = bundle.add_parser("export", help="write the whole bundle into one tar file")
    export.add_argument("file", type=Path, metavar="FILE.tar")
    imported = bundle.add_parser(
        "import", help="check a tar from `bundle export` and install it for `mirror serve`"
    )
    imported.add_argument("file", type=Path, metavar="FILE.tar")


def _map_parser(groups: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from kubesmith.netmap.command import EXIT_PROBLEMS, FORMATS

    netmap = groups.add_parser(
        "map",
        help="draw the cluster's network as the nodes and the API have it (read-only)",
        description="Read the live cluster (nodes over SSH, the API with the admin "
        "kubeconfig) and draw its network; problems are drawn in red and listed.",
    )
    netmap.add_argument(
        "-i",
        "--inventory",
        type=Path,
        default=argparse.SUPPRESS,
        help="inventory directory or file (as before the verb)",
    )
    netmap.add_argument(
        "-o",
        "--output",
        type=Path,
        help="write to FILE; .svg, .html, .json or .txt picks the format",
    )
    netmap.add_argument(
        "--format", choices=FORMATS, help="output format (default: from -o, else text)"
    )
    netmap.add_argument(
        "--kubeconfig",
        type=Path,
        help="admin kubeconfig (default: admin.conf in the inventory's kube_artifacts_dir)",
    )
    netmap.add_argument(
        "--strict",
        action="store_true",
        help=f"exit {EXIT_PROBLEMS} when the map shows a problem (default: exit 0)",
    )


def _bundle(args: argparse.Namespace) -> int:
    from kubesmith.bundle import archive, build, ensure, fetch, versions

    pinned = versions.load()
    if args.verb == "build":
        build.build_bundle(pinned, set(args.only) if args.only else None)
    elif args.verb == "export":
        archive.export_bundle(args.file)
    elif args.verb == "import":
        archive.import_bundle(args.file, pinned)
    else:
        source = fetch.Upstream(
            fetch.files_base(args.files_base), fetch.registry_map(args.registry_map)
        )
        if args.verb == "fetch":
            fetch.fetch_bundle(pinned, source)
        else:
            ensure.ensure(
                pinned,
                lambda: fetch.fetch_bundle(pinned, source),
                lambda: build.build_bundle(pinned),
                source.files_base,
            )
    return 0


def _mirror(args: argparse.Namespace) -> int:
    from kubesmith import mirror

    if args.verb == "stop":
        mirror.stop(args.address)
        return 0
    address = args.address or str(load_local(args.inventory).network.gateway.ip)
    mirror.serve(address)
    return 0


def _vagrant(args: argparse.Namespace) -> int:
    from kubesmith import vagrant
    from kubesmith.inventory import load_raw

    written = vagrant.write_inventory(args.root, args.inventory, load_raw(args.inventory))
    print(f"kubesmith: wrote {written}")
    return 0


def _map(args: argparse.Namespace) -> int:
    from kubesmith.netmap.command import run_map

    return run_map(args.inventory, args.output, args.format, args.kubeconfig, args.strict)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.group == "map":
            return _map(args)
        if args.group == "bundle":
            return _bundle(args)
        if args.group == "mirror":
            return _mirror(args)
        if args.group == "vagrant":
            return _vagrant(args)
        spec = load_local(args.inventory)
        return NODE_VERBS[args.verb](spec, args)
    except KubesmithError as exc:
        print(f"kubesmith: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
