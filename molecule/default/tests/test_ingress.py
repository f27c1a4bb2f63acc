"""The ingress role against the live cluster.

The F5 NGINX Ingress Controller image cannot come from the package
registries, so the offline mirror lacks it and the local inventory sets
kube_ingress_enabled: false. What can be proved here is proved: the role
refuses to start without the image and applies nothing, and every object it
renders (RBAC, ConfigMap, IngressClass nginx, Deployment, NodePort Service)
is accepted by the API server in a server-side dry run (check mode).
"""

import pytest

from conftest import TESTBOX, default_scenario_only, kubectl, run_playbook

pytestmark = default_scenario_only

INGRESS_OBJECTS = (
    ("namespace", "nginx-ingress"),
    ("ingressclass", "nginx"),
    ("clusterrole", "nginx-ingress"),
    ("clusterrolebinding", "nginx-ingress"),
)


def absent(*what: str) -> bool:
    return kubectl("get", *what, check=False).returncode != 0


def test_missing_image_stops_the_role_before_anything_is_applied():
    result = run_playbook("ingress.yml")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "docker.io/nginx/nginx-ingress:5.5.4 is not in the registry mirror" in output
    assert all(absent(kind, name) for kind, name in INGRESS_OBJECTS)


@pytest.fixture
def ingress_namespace():
    """A server-side dry run creates nothing, not even the namespace the other
    objects go into; the namespace is made for the test and removed after."""
    kubectl("create", "namespace", "nginx-ingress")
    yield
    kubectl("delete", "namespace", "nginx-ingress", "--wait=true")


def test_rendered_objects_pass_server_side_validation(ingress_namespace):
    """Check mode with an image the mirror has: the probe passes and the API
    server validates every object without creating any."""
    result = run_playbook("ingress.yml", "--check", "-e", f"ingress_image={TESTBOX}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "failed=0" in output
    created = [(k, n) for k, n in INGRESS_OBJECTS[1:] if not absent(k, n)]
    assert not created, f"check mode created {created}"
    for kind, name in (
        ("deployment", "nginx-ingress"),
        ("service", "nginx-ingress"),
        ("configmap", "nginx-config"),
        ("serviceaccount", "nginx-ingress"),
    ):
        assert absent("-n", "nginx-ingress", kind, name), f"check mode created {kind}/{name}"


def test_server_side_validation_can_fail(ingress_namespace):
    """Negative control: the API server rejects an invalid object in the same
    check-mode run (client-side checks would let it through). The inventory
    check refuses the value first; with it skipped, the dry run still does."""
    bad = ("-e", "ingress_replicas=-1", "-e", f"ingress_image={TESTBOX}")
    refused = run_playbook("ingress.yml", "--check", *bad)
    assert refused.returncode != 0
    # The callback may fold long messages: compare with whitespace collapsed.
    assert "ingress_replicas: -1 must be at least 1" in " ".join(
        (refused.stdout + refused.stderr).split()
    )
    result = run_playbook("ingress.yml", "--check", "--skip-tags", "preflight", *bad)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid value: -1: must be greater than or equal to 0" in output
