"""Host services on the bridge address: the package proxy and DNS forwarder.

Nodes have no route to the outside, so they install packages through
apt-cacher-ng and resolve names through dnsmasq, both listening only on the
bridge address. apt-cacher-ng is limited to the Debian archives it knows.
"""

from dataclasses import dataclass
from pathlib import Path

from kubesmith import daemon, log
from kubesmith.inventory import LocalNetwork
from kubesmith.paths import cache_dir, state_dir
from kubesmith.proc import run
from kubesmith.rootfs import mirror

APT_PROXY_PORT = 3142


@dataclass(frozen=True)
class Service:
    name: str
    pidfile: Path
    argv: list[str]


def _service_dir(bridge: str) -> Path:
    return state_dir() / "services" / bridge


def apt_proxy_config(bridge: str) -> str:
    """apt-cacher-ng settings: only the Debian archive (and its security suite) pass."""
    base = _service_dir(bridge)
    archive = mirror().split("://", 1)[-1].rstrip("/")
    return (
        f"CacheDir: {cache_dir() / 'apt-cacher-ng'}\n"
        f"LogDir: {base / 'apt-cacher-ng-log'}\n"
        "SupportDir: /usr/lib/apt-cacher-ng\n"
        f"Remap-debrep: {archive} ; {mirror().rstrip('/')}/\n"
        "Remap-secdeb: deb.debian.org/debian-security security.debian.org/debian-security"
        " ; http://deb.debian.org/debian-security/\n"
        "ForceManaged: 1\n"
    )


def services(net: LocalNetwork) -> list[Service]:
    base = _service_dir(net.bridge)
    address = str(net.gateway.ip)
    apt = Service(
        name="apt-cacher-ng",
        pidfile=base / "apt-cacher-ng.pid",
        argv=[
            "apt-cacher-ng",
            "-c",
            str(base / "apt-cacher-ng"),
            "ForeGround=0",
            f"BindAddress={address}",
            f"Port={APT_PROXY_PORT}",
            f"PidFile={base / 'apt-cacher-ng.pid'}",
            f"SocketPath={base / 'apt-cacher-ng.socket'}",
        ],
    )
    dns = Service(
        name="dnsmasq",
        pidfile=base / "dnsmasq.pid",
        argv=[
            "dnsmasq",
            "--conf-file=/dev/null",
            f"--listen-address={address}",
            "--bind-interfaces",
            "--no-hosts",
            f"--pid-file={base / 'dnsmasq.pid'}",
            "--user=dnsmasq",
        ],
    )
    return [apt, dns]


def _write_apt_proxy_config(bridge: str) -> None:
    base = _service_dir(bridge)
    for sub in ("apt-cacher-ng", "apt-cacher-ng-log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (cache_dir() / "apt-cacher-ng").mkdir(parents=True, exist_ok=True)
    (base / "apt-cacher-ng" / "acng.conf").write_text(apt_proxy_config(bridge))


def ensure_services(net: LocalNetwork) -> None:
    """Start the bridge's services unless they already run."""
    for svc in services(net):
        if daemon.pid_alive(svc.pidfile):
            continue
        if svc.name == "apt-cacher-ng":
            _write_apt_proxy_config(net.bridge)
        daemon.start(svc.name, svc.argv, svc.pidfile, daemonizes=True)
        log.info(f"{svc.name} listening on {net.gateway.ip}")


def stop_services(net: LocalNetwork) -> None:
    """Stop the bridge's services and remove their runtime files (not the apt cache)."""
    for svc in services(net):
        daemon.stop(svc.pidfile)
    run(["rm", "-rf", _service_dir(net.bridge)], what="remove service state")
