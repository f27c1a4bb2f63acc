"""One local node: an overlay root filesystem booted by systemd-nspawn."""

import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kubesmith.errors import KubesmithError
from kubesmith.inventory import LocalNetwork, NodeSpec
from kubesmith.local import cgroups
from kubesmith.local.services import APT_PROXY_PORT
from kubesmith.paths import state_dir
from kubesmith.proc import run, tail

STOP_TIMEOUT = 60.0


def nodes_dir() -> Path:
    return state_dir() / "nodes"


@dataclass(frozen=True)
class NodeConfig:
    """What a node's root filesystem gets written into it at create time."""

    spec: NodeSpec
    network: LocalNetwork
    peers: dict[str, str]
    authorized_key: str


def _write(root: Path, relative: str, text: str, mode: int = 0o644) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def render_files(cfg: NodeConfig) -> dict[str, str]:
    """Node-specific files, path relative to the root filesystem -> content."""
    gw = cfg.network.gateway
    hosts = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    hosts += [f"{ip} {name}" for name, ip in sorted(cfg.peers.items())]
    return {
        "etc/hostname": f"{cfg.spec.name}\n",
        "etc/hosts": "\n".join(hosts) + "\n",
        "etc/resolv.conf": f"nameserver {gw.ip}\n",
        "etc/systemd/network/10-host0.network": (
            "[Match]\nName=host0\n\n[Network]\n"
            f"Address={cfg.spec.address}/{gw.network.prefixlen}\n"
            f"Gateway={gw.ip}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
        ),
        "etc/apt/apt.conf.d/01kubesmith-proxy": (
            f'Acquire::http::Proxy "http://{gw.ip}:{APT_PROXY_PORT}";\n'
        ),
        "etc/ssh/sshd_config.d/kubesmith.conf": "HostKey /etc/ssh/ssh_host_ed25519_key\n",
    }


class LocalNode:
    """Lifecycle of one node: prepare, boot, stop, delete."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = nodes_dir() / name
        self.rootfs = self.dir / "rootfs"
        self.console = self.dir / "console.log"

    # -- state ---------------------------------------------------------------
    @property
    def meta(self) -> dict[str, str]:
        path = self.dir / "node.json"
        data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return data

    def _save_meta(self, **values: str) -> None:
        data = self.meta | values
        (self.dir / "node.json").write_text(json.dumps(data, indent=2) + "\n")

    def exists(self) -> bool:
        return (self.dir / "node.json").exists()

    def pid(self) -> int | None:
        """The nspawn process of this node, if it runs."""
        try:
            pid = int((self.dir / "pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError):
            return None
        if b"systemd-nspawn" in cmdline[0] and f"--machine={self.name}".encode() in cmdline:
            return pid
        return None

    def running(self) -> bool:
        return self.pid() is not None

    # -- create --------------------------------------------------------------
    def prepare(self, image: Path, cfg: NodeConfig, host_key_pub: Path) -> None:
        """Mount the overlay and write the node's own files (idempotent)."""
        for sub in ("upper", "work", "rootfs", "containerd"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self._save_meta(
            bridge=cfg.network.bridge,
            gateway=str(cfg.network.gateway),
            address=str(cfg.spec.address),
            image=str(image),
        )
        if not os.path.ismount(self.rootfs):
            run(
                [
                    "mount",
                    "-t",
                    "overlay",
                    f"kubesmith-{self.name}",
                    "-o",
                    f"lowerdir={image},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}",
                    self.rootfs,
                ],
                what=f"mount the root filesystem of {self.name}",
            )
        for relative, text in render_files(cfg).items():
            _write(self.rootfs, relative, text)
        machine_id = self.rootfs / "etc/machine-id"
        if not machine_id.read_text().strip():
            machine_id.write_text(uuid.uuid4().hex + "\n")
        _write(self.rootfs, "root/.ssh/authorized_keys", cfg.authorized_key, 0o600)
        (self.rootfs / "root/.ssh").chmod(0o700)
        key = self.rootfs / "etc/ssh/ssh_host_ed25519_key"
        if not key.exists():
            run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.name, "-f", key],
                what=f"generate the SSH host key of {self.name}",
            )
        host_key_pub.write_text(key.with_suffix(".pub").read_text())

    def boot(self, bridge: str) -> None:
        """Start systemd-nspawn in the background; return once it runs."""
        if self.running():
            return
        self._remove_veth()
        dirs = cgroups.prepare(self.name)
        self._save_meta(cgroups=json.dumps([str(d) for d in dirs]))
        argv = [
            "systemd-nspawn",
            "--boot",
            f"--directory={self.rootfs}",
            f"--machine={self.name}",
            "--register=no",
            "--keep-unit",
            "--console=read-only",
            f"--network-bridge={bridge}",
            "--capability=all",
            "--system-call-filter=@keyring bpf",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            f"--bind={self.dir / 'containerd'}:/var/lib/containerd",
        ]
        with self.console.open("ab") as console:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: cgroups.enter(dirs),
            )
        (self.dir / "pid").write_text(f"{proc.pid}\n")
        time.sleep(0.2)
        if proc.poll() is not None:
            raise KubesmithError(
                f"node {self.name} did not boot:\n{tail(self.console.read_text())}"
            )

    # -- stop / delete -------------------------------------------------------
    def _cgroup_dirs(self) -> list[Path]:
        return [Path(d) for d in json.loads(self.meta.get("cgroups", "[]"))]

    def stop(self, graceful: bool = True) -> None:
        """Power the node off and clear its cgroups.

        Graceful: nspawn turns SIGTERM into a clean shutdown; a node still up
        after STOP_TIMEOUT is killed. Otherwise every process of the node (its
        init included: killing nspawn alone would orphan it) is killed at once.
        """
        pid = self.pid()
        if pid is not None and graceful:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.2)
        busy = cgroups.remove(self._cgroup_dirs())
        if busy:
            raise KubesmithError(f"node {self.name}: cgroups still in use: {busy[:3]}")
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        self._remove_veth()

    def _remove_veth(self) -> None:
        """Delete this machine's end of the node's veth pair once nothing runs.

        The kernel removes it with the node's network namespace, but after a
        kill that teardown can take a minute or more (many pod namespaces
        go with it); booting the same name meanwhile fails ("File exists").
        Deleting one end deletes the pair."""
        veth = f"vb-{self.name}"
        if self.pid() is None and Path(f"/sys/class/net/{veth}").exists():
            subprocess.run(["ip", "link", "delete", veth], capture_output=True, check=False)

    def delete(self) -> None:
        """Kill the node and remove every trace of it."""
        self.stop(graceful=False)
        if self.rootfs.exists():
            mounts = Path("/proc/self/mounts").read_text().splitlines()
            inside = [m.split()[1] for m in mounts if m.split()[1].startswith(str(self.rootfs))]
            for mountpoint in sorted(inside, key=len, reverse=True):
                run(["umount", "-l", mountpoint], what=f"unmount {mountpoint}")
        run(["rm", "-rf", "--one-file-system", self.dir], what=f"remove node {self.name}")
