"""TCP connect latency from a pod on worker1 to a pod on worker2, without and
with a NetworkPolicy, in one run on the live cluster (make up).

A server pod on worker2 and a client pod on worker1 share the namespace
bench-netpol. The client opens CONNECTIONS new TCP connections (curl's
time_connect: SYN to SYN-ACK, as the client sees it) with no policy, then
again with deny-from-other-namespaces on the namespace, which admits the
client (same namespace) and is in force: an outsider pod in
bench-netpol-outside is refused first. Prints p50 and p99 of both and their
ratio. With kube-network-policies the first packet of every connection to a
policed pod waits for a verdict from user space (NFQUEUE); with Calico,
iptables rules decide in the kernel.
Usage: python bench/netpol_latency.py [CONNECTIONS] [KUBECONFIG]
(default 500, artifacts/local/admin.conf)
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from kubesmith.bundle.build import kubectl_path
from kubesmith.bundle.versions import load

REPO = Path(__file__).resolve().parent.parent
KUBECONFIG = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "artifacts" / "local" / "admin.conf"
TESTBOX = f"docker.io/kubesmith/testbox:{load()['kube_busybox_version']}"
NAMESPACE = "bench-netpol"
OUTSIDE = "bench-netpol-outside"
WARM_UP = 20


def kubectl_run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [kubectl_path(), f"--kubeconfig={KUBECONFIG}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def kubectl(*args: str, stdin: str | None = None) -> str:
    result = kubectl_run(*args, stdin=stdin)
    if result.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def pod(namespace: str, name: str, node: str, command: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "main", "image": TESTBOX, "command": ["sh", "-c", command]}],
        },
    }


DENY_FROM_OTHER_NAMESPACES = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny-from-other-namespaces", "namespace": NAMESPACE},
    "spec": {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}]}],
    },
}


ENGINE_DAEMONSETS = {"calico-node": "calico", "kube-network-policies": "kube-network-policies"}


def engine() -> str:
    """The NetworkPolicy engine the cluster runs, by its DaemonSet."""
    daemonsets = json.loads(kubectl("-n", "kube-system", "get", "ds", "-o", "json"))["items"]
    found = [ENGINE_DAEMONSETS.get(d["metadata"]["name"]) for d in daemonsets]
    return next((name for name in found if name), "none")


def connect_times(url: str, count: int) -> list[float]:
    """Milliseconds to connect, one new connection at a time from the client."""
    loop = (
        f"for i in $(seq {count + WARM_UP}); do"
        f" curl -s -o /dev/null --connect-timeout 2 -w '%{{time_connect}}\\n' {url}; done"
    )
    out = kubectl("-n", NAMESPACE, "exec", "client", "--", "sh", "-c", loop)
    times = [float(t) * 1000 for t in out.split()][WARM_UP:]
    if len(times) != count or min(times) <= 0:
        raise SystemExit(f"expected {count} connections, got {len(times)} (failed ones read 0)")
    return times


def outsider_refused(url: str) -> bool:
    curl = ("curl", "-s", "-o", "/dev/null", "--connect-timeout", "2", url)
    return kubectl_run("-n", OUTSIDE, "exec", "client", "--", *curl).returncode != 0


def percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    serve = "mkdir -p /www && echo ok > /www/index.html && exec busybox httpd -f -p 8080 -h /www"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in (NAMESPACE, OUTSIDE)
    ]
    objects += [
        pod(NAMESPACE, "server", "worker2", serve),
        pod(NAMESPACE, "client", "worker1", "exec sleep 3600"),
        pod(OUTSIDE, "client", "worker1", "exec sleep 3600"),
    ]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))
    try:
        for ns in (NAMESPACE, OUTSIDE):
            kubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=180s")
        server = json.loads(kubectl("-n", NAMESPACE, "get", "pod", "server", "-o", "json"))
        url = f"http://{server['status']['podIP']}:8080/"
        results = {"no policy": connect_times(url, count)}
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump(DENY_FROM_OTHER_NAMESPACES))
        deadline = time.monotonic() + 60
        while not outsider_refused(url):
            if time.monotonic() > deadline:
                raise SystemExit("the policy never took hold: the outsider still connects")
            time.sleep(1)
        results["deny-from-other-namespaces"] = connect_times(url, count)
    finally:
        kubectl_run("delete", "namespace", NAMESPACE, OUTSIDE, "--wait=false")
    print(f"TCP connect, worker1 pod -> worker2 pod, {count} connections each, {engine()}:")
    figures = {name: percentiles(times) for name, times in results.items()}
    for name, (p50, p99) in figures.items():
        print(f"  {name + ':':<30} p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    (base50, base99), (pol50, pol99) = figures.values()
    ratio = "ratio (policy / no policy):"
    print(f"  {ratio:<30} p50 {pol50 / base50:.2f}x    p99 {pol99 / base99:.2f}x")


if __name__ == "__main__":
    main()
