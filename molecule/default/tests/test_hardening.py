"""The hardened control plane on the live cluster: Secrets encrypted in etcd,
the audit log, profiling off, kubelet settings, settings reaching a running
cluster through kubeadm, and key rotation, each with a negative control.

The procedures (switching encryption off and on, filling the audit log, a
profiling-on re-run, key rotation) do not depend on the node OS and run in the
default scenario only; the settings in effect are checked in every scenario."""

import base64
import http.client
import json
import re
import secrets
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import (
    ADMIN_CONF,
    ARTIFACTS,
    BIN,
    CONTROL_PLANES,
    ETCD_HOSTS,
    INVENTORY,
    K8S_NODES,
    REPO,
    default_scenario_only,
    etcdctl_command,
    kubectl,
    kubectl_json,
    other,
    run_playbook,
    wait_for,
)

testinfra_hosts = ["cp1"]

NAMESPACE = "kubesmith-hardening"
KEYS = ARTIFACTS / "encryption" / "keys.yml"
ETCD = ETCD_HOSTS[0]
ETCDCTL = etcdctl_command(ETCD)
AUDIT_DIR = "/var/log/kubernetes/audit"
APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
ENCRYPTION_CONFIG = "/etc/kubernetes/enc/encryption-config.yaml"
CONTROL_PLANE_ONLY = ("--tags", "control_plane")


@pytest.fixture(scope="module", autouse=True)
def namespace():
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        ),
    )
    yield NAMESPACE
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def create_secret(name: str) -> str:
    """A Secret with a fresh random value; returns the value."""
    value = secrets.token_hex(16)
    kubectl("-n", NAMESPACE, "create", "secret", "generic", name, f"--from-literal=token={value}")
    return value


def read_secret(name: str) -> subprocess.CompletedProcess:
    return kubectl(
        "-n", NAMESPACE, "get", "secret", name, "-o", "jsonpath={.data.token}", check=False
    )


def secret_value(name: str) -> str:
    result = read_secret(name)
    assert result.returncode == 0, result.stderr
    return base64.b64decode(result.stdout).decode()


def etcd_key(name: str) -> str:
    return f"/registry/secrets/{NAMESPACE}/{name}"


def stored(host, name: str) -> bytes:
    """The Secret as etcd holds it, read with etcdctl over mutual TLS."""
    out = other(host, ETCD).check_output(f"{ETCDCTL} get {etcd_key(name)} -w json")
    kvs = json.loads(out).get("kvs", [])
    assert kvs, f"{etcd_key(name)} is not in etcd"
    return base64.b64decode(kvs[0]["value"])


def store(host, name: str, raw: bytes) -> None:
    """Write raw bytes to the Secret's etcd key, past the API server."""
    encoded = base64.b64encode(raw).decode()
    other(host, ETCD).check_output(f"echo {encoded} | base64 -d | {ETCDCTL} put {etcd_key(name)}")


def encryption_keys() -> list[dict]:
    """The controller's key file: names and providers, first one encrypts."""
    keys = yaml.safe_load(KEYS.read_text())["keys"]
    return [{"name": k["name"], "provider": k["provider"]} for k in keys]


def prefix(key: dict) -> bytes:
    return f"k8s:enc:{key['provider']}:v1:{key['name']}:".encode()


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result


# 1. encryption at rest -----------------------------------------------------
def test_secret_is_ciphertext_in_etcd(host):
    value = create_secret("encrypted-at-rest")
    raw = stored(host, "encrypted-at-rest")
    assert raw.startswith(prefix(encryption_keys()[0])), raw[:40]
    assert value.encode() not in raw
    assert secret_value("encrypted-at-rest") == value


@default_scenario_only
def test_running_cluster_takes_changed_settings_through_kubeadm(host):
    """Re-runs with changed settings reach the running control plane: kubeadm's
    phases rewrite the static pod manifests (the kubelet restarts the
    components) and store the configuration in the cluster; a re-run with
    nothing changed then reports changed=0. Two settings change together, each
    the negative control of a check elsewhere:

    - encryption at rest off: etcd holds a new Secret's value in plain text;
      turning encryption on changes only new writes (the Secret written before
      stays readable and plain), and the role's one-time rewrite encrypts it;
    - profiling on: /debug/pprof/ answers, where the profiling check sees 404s."""
    earlier = secret_value("encrypted-at-rest")
    assert set(profiling_flags(host).values()) == {"false"}
    try:
        on = succeeded(
            run_playbook(
                "cluster.yml",
                *CONTROL_PLANE_ONLY,
                "-e",
                "kube_secrets_encryption_enabled=false",
                "-e",
                "control_plane_profiling=true",
            )
        )
        assert "kubeadm init phase control-plane all" in on.stdout
        assert set(profiling_flags(host).values()) == {"true"}
        assert uploaded_profiling() == "true"
        assert wait_for(lambda: get_raw("/debug/pprof/").returncode == 0, timeout=60)
        assert on_cp1(host, 10257, "/debug/pprof/").rc == 0
        # Switching off rewrote everything in plain text, the key kept for reading.
        assert earlier.encode() in stored(host, "encrypted-at-rest")
        value = create_secret("before-encryption")
        raw = stored(host, "before-encryption")
        assert value.encode() in raw and not raw.startswith(b"k8s:enc:")

        off = succeeded(
            run_playbook("cluster.yml", *CONTROL_PLANE_ONLY, "--skip-tags", "secrets_rewrite")
        )
        assert set(profiling_flags(host).values()) == {"false"}
        assert uploaded_profiling() == "false"
        assert "NotFound" in get_raw("/debug/pprof/").stderr
        assert "kubeadm init phase upload-config all" in off.stdout
        after = create_secret("after-encryption")
        assert stored(host, "after-encryption").startswith(prefix(encryption_keys()[0]))
        assert after.encode() not in stored(host, "after-encryption")
        assert value.encode() in stored(host, "before-encryption"), "not rewritten yet"
        assert secret_value("before-encryption") == value
    finally:
        succeeded(run_playbook("cluster.yml", *CONTROL_PLANE_ONLY))
    raw = stored(host, "before-encryption")
    assert raw.startswith(prefix(encryption_keys()[0])), raw[:40]
    assert value.encode() not in raw
    assert secret_value("before-encryption") == value
    assert earlier.encode() not in stored(host, "encrypted-at-rest")
    again = succeeded(run_playbook("cluster.yml", *CONTROL_PLANE_ONLY))
    assert re.search(r"cp1\s*:\s*ok=\d+\s+changed=0\s", again.stdout), again.stdout[-1500:]


# 2. audit log --------------------------------------------------------------
def audit_events(host, needle: str) -> list[dict]:
    """Events in the current and rotated audit logs whose line contains needle,
    on every control plane (the API endpoint may send a request to any)."""
    lines = []
    for name in CONTROL_PLANES:
        result = other(host, name).run(f"grep -h -F -- {needle} {AUDIT_DIR}/*.log")
        lines += result.stdout.splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_creating_a_secret_is_audited_without_its_value(host):
    value = create_secret("audited")

    def create_events() -> list[dict]:
        return [
            e
            for e in audit_events(host, '"audited"')
            if e.get("objectRef", {}).get("resource") == "secrets"
            and e["objectRef"].get("name") == "audited"
            and e["verb"] == "create"
        ]

    events = wait_for(create_events, timeout=30)
    assert events, "no audit event for creating the Secret"
    event = events[-1]
    assert event["user"]["username"] == "kubernetes-admin"
    assert event["objectRef"]["namespace"] == NAMESPACE
    assert event["level"] == "Metadata"
    assert event["responseStatus"]["code"] == 201
    assert "requestObject" not in event and "responseObject" not in event
    encoded = base64.b64encode(value.encode()).decode()
    for needle in (value, encoded):
        for name in CONTROL_PLANES:
            found = other(host, name).run(f"grep -r -l -F -- {needle} {AUDIT_DIR}")
            assert found.rc == 1, f"value in the audit log on {name}"
    # Negative control: the same search finds the value where it is shown.
    shown = kubectl("-n", NAMESPACE, "get", "secret", "audited", "-o", "yaml").stdout
    assert encoded in shown


def apiserver_flag(host, name: str) -> str:
    manifest = host.file(APISERVER_MANIFEST).content_string
    match = re.search(rf"--{name}=(\S+)", manifest)
    assert match, f"--{name} is not set"
    return match.group(1)


def admin_connection(tmp_path: Path) -> http.client.HTTPSConnection:
    """A kept-alive HTTPS connection with the admin kubeconfig's credentials."""
    config = yaml.safe_load(ADMIN_CONF.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    cert, key = tmp_path / "admin.crt", tmp_path / "admin.key"
    for path, data in ((cert, user["client-certificate-data"]), (key, user["client-key-data"])):
        path.touch(mode=0o600)
        path.write_bytes(base64.b64decode(data))
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    context.load_cert_chain(cert, key)
    address = cluster["server"].removeprefix("https://")
    hostname, port = address.rsplit(":", 1)
    return http.client.HTTPSConnection(hostname, int(port), context=context, timeout=10)


@default_scenario_only
def test_audit_log_rotates_at_its_configured_size(host, tmp_path):
    """Requests by the admin are logged at Metadata; enough of them fill the
    log past --audit-log-maxsize (1 MB in this scenario's inventory), and the
    log rotates: the rotated file is that size, give or take one event."""
    maxsize = int(apiserver_flag(host, "audit-log-maxsize"))
    assert maxsize <= 2, "this test needs kube_audit_log_maxsize of 1 or 2 (MB) in the inventory"
    limit = maxsize * 1024 * 1024

    def rotated() -> set[str]:
        listing = host.run(f"ls {AUDIT_DIR}").stdout.split()
        return {name for name in listing if name.startswith("audit-")}

    before = rotated()
    connection = admin_connection(tmp_path)
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/audit-filler"
    # About 1 KB per event: at most 20 MB of events before giving up.
    for _ in range(40):
        for _ in range(500):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.status == 404
        if rotated() - before:
            break
    new = rotated() - before
    assert new, f"no rotated audit log after 20000 requests (maxsize {maxsize} MB)"
    size = host.file(f"{AUDIT_DIR}/{sorted(new)[0]}").size
    assert limit - 64 * 1024 < size <= limit, (size, limit)
    assert host.file(f"{AUDIT_DIR}/audit.log").size < limit


# 3. profiling --------------------------------------------------------------
def get_raw(path: str) -> subprocess.CompletedProcess:
    return kubectl("get", "--raw", path, check=False)


def on_cp1(host, port: int, path: str):
    """GET a path of a component on cp1's loopback with the admin's certificate."""
    return host.run(
        f"kubectl --kubeconfig=/etc/kubernetes/admin.conf --server=https://127.0.0.1:{port} "
        f"--insecure-skip-tls-verify get --raw {path}"
    )


def test_profiling_is_off_on_the_control_plane(host):
    """/debug/pprof/ answers 404 on the API server, the controller manager
    (10257) and the scheduler (10259). Negative controls, over the same
    connection and credentials: each answers /metrics, which also needs
    authorization, and the kubelet, which keeps its profiling handler (behind
    nodes/proxy, which already allows exec), answers /debug/pprof/cmdline
    through the same API server: a check that could only see 404s would fail
    there."""
    for path in ("/debug/pprof/", "/debug/pprof/cmdline"):
        pprof = get_raw(path)
        assert pprof.returncode != 0 and "NotFound" in pprof.stderr, (path, pprof.stderr)
    assert get_raw("/metrics").returncode == 0
    kubelet = get_raw("/api/v1/nodes/cp1/proxy/debug/pprof/cmdline")
    assert kubelet.returncode == 0 and "/usr/local/bin/kubelet" in kubelet.stdout, kubelet
    for port in (10257, 10259):
        off = on_cp1(host, port, "/debug/pprof/")
        assert off.rc != 0 and "NotFound" in off.stderr, (port, off.stderr)
        assert on_cp1(host, port, "/metrics").rc == 0, port


def profiling_flags(host) -> dict[str, str]:
    flags = {}
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        manifest = host.file(f"/etc/kubernetes/manifests/{component}.yaml").content_string
        match = re.search(r"--profiling=(\w+)", manifest)
        flags[component] = match.group(1) if match else ""
    return flags


def uploaded_profiling() -> str:
    """The API server's profiling as kubeadm stored the ClusterConfiguration."""
    config = kubectl_json("-n", "kube-system", "get", "configmap", "kubeadm-config")
    cluster = yaml.safe_load(config["data"]["ClusterConfiguration"])
    return next(a["value"] for a in cluster["apiServer"]["extraArgs"] if a["name"] == "profiling")


def test_services_with_external_ips_are_refused():
    """DenyServiceExternalIPs: a Service may not claim external IPs (through
    which it could capture traffic to those addresses). Negative control: the
    same Service without them passes the same server-side dry run."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "external-ip", "namespace": NAMESPACE},
        "spec": {"ports": [{"port": 80}]},
    }

    def dry_run() -> subprocess.CompletedProcess:
        return kubectl(
            "apply", "--dry-run=server", "-f", "-", stdin=json.dumps(service), check=False
        )

    assert dry_run().returncode == 0
    service["spec"]["externalIPs"] = ["192.0.2.10"]
    refused = dry_run()
    assert refused.returncode != 0, refused.stderr
    assert "Use of external IPs is denied by admission control" in refused.stderr


# 4. kubelets ---------------------------------------------------------------
CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
}


def tls12_handshake(node, address: str, cipher: str) -> bool:
    """Whether a TLS 1.2 handshake offering only this OpenSSL cipher succeeds
    (the client's own security level lowered, so only the server decides)."""
    result = node.run(
        f"curl -sk -o /dev/null -m 5 --tlsv1.2 --tls-max 1.2 "
        f"--ciphers '{cipher}:@SECLEVEL=0' https://{address}/"
    )
    return result.rc == 0


@pytest.mark.parametrize("name", K8S_NODES)
def test_kubelet_runs_the_hardened_configuration(host, nodes, name):
    """Every kubelet took the cluster's KubeletConfiguration: certificate
    rotation, strong TLS ciphers only, bounded events. These are container
    nodes: protectKernelDefaults stays off, the kernel is the host's. Its
    files are private (CIS 4.1.1, 4.1.9). Negative control: the kubelet and
    the API server complete a TLS 1.2 handshake with an allowed cipher and
    refuse ECDHE-RSA-AES128-SHA, a CBC cipher Go accepts by default."""
    path = f"/api/v1/nodes/{name}/proxy/configz"
    config = json.loads(kubectl("get", "--raw", path).stdout)["kubeletconfig"]
    assert set(config["tlsCipherSuites"]) == CIPHERS
    assert config["rotateCertificates"] is True
    assert config["eventRecordQPS"] == 50
    assert config.get("protectKernelDefaults", False) is False
    node = other(host, name)
    assert node.file("/var/lib/kubelet/config.yaml").mode == 0o600
    assert node.file("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf").mode == 0o600
    for target in (f"{nodes[name]['address']}:10250", f"{nodes['cp1']['address']}:6443"):
        assert tls12_handshake(node, target, "ECDHE-RSA-AES128-GCM-SHA256"), target
        assert not tls12_handshake(node, target, "ECDHE-RSA-AES128-SHA"), target


# 5. key rotation -----------------------------------------------------------
@pytest.fixture(scope="module")
def rotation(host, tmp_path_factory):
    """Runs playbooks/rotate-encryption-key.yml while reading Secrets every
    second; returns what was seen."""
    keys_before = encryption_keys()
    assert len(keys_before) == 1
    value = create_secret("rotated")
    raw_old = stored(host, "rotated")
    assert raw_old.startswith(prefix(keys_before[0]))
    watched = {"rotated": value, "encrypted-at-rest": secret_value("encrypted-at-rest")}
    log = tmp_path_factory.mktemp("rotation") / "ansible.log"
    reads, failures = 0, []
    with log.open("w") as out:
        playbook = subprocess.Popen(
            [
                BIN / "ansible-playbook",
                "-i",
                INVENTORY,
                REPO / "playbooks" / "rotate-encryption-key.yml",
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 1200
        while playbook.poll() is None and time.monotonic() < deadline:
            for name, expected in watched.items():
                result = read_secret(name)
                reads += 1
                if result.returncode != 0 or base64.b64decode(result.stdout).decode() != expected:
                    failures.append(f"{name}: {result.stderr.strip()[-300:]}")
            time.sleep(1)
        if playbook.poll() is None:
            playbook.kill()
    output = log.read_text()
    assert playbook.wait() == 0, output[-4000:]
    return {
        "before": keys_before,
        "after": encryption_keys(),
        "raw_old": raw_old,
        "raw_new": stored(host, "rotated"),
        "value": value,
        "reads": reads,
        "failures": failures,
        "output": output,
    }


@default_scenario_only
def test_key_rotation_keeps_secrets_readable_and_drops_the_old_key(host, rotation):
    assert rotation["reads"] > 20 and not rotation["failures"], rotation["failures"][:5]
    old, new = rotation["before"][0], rotation["after"][0]
    assert rotation["after"] == [new] and new["name"] != old["name"]
    assert rotation["raw_new"].startswith(prefix(new))
    assert stored(host, "encrypted-at-rest").startswith(prefix(new))
    config = yaml.safe_load(host.file(ENCRYPTION_CONFIG).content_string)
    providers = config["resources"][0]["providers"]
    names = [key["name"] for p in providers for body in p.values() for key in body.get("keys", [])]
    assert names == [new["name"]]
    assert providers[-1] == {"identity": {}}
    for step in ("Step 1 of 3", "Step 2 of 3", "Step 3 of 3"):
        assert step in rotation["output"]


@default_scenario_only
def test_secret_left_with_only_the_old_key_is_unreadable(host, rotation):
    """Why the order matters: had the old key been dropped before the rewrite,
    a Secret still stored with it could no longer be read. The Secret's
    old-key form, saved before the rotation, is put back into etcd: the API
    server cannot read it; its rewritten form, put back, reads again."""
    try:
        store(host, "rotated", rotation["raw_old"])
        unreadable = read_secret("rotated")
        assert unreadable.returncode != 0
        assert "not transformable" in unreadable.stderr, unreadable.stderr
    finally:
        store(host, "rotated", rotation["raw_new"])
    assert wait_for(lambda: read_secret("rotated").returncode == 0, timeout=30)
    assert secret_value("rotated") == rotation["value"]
