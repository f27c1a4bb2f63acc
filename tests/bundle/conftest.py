import json
import os

import pytest

from kubesmith.bundle.build import bundle_dir


@pytest.fixture(scope="session")
def bundle():
    """The built bundle's summary; `make test` builds it first and requires it."""
    path = bundle_dir() / "bundle.json"
    if not path.exists():
        if os.environ.get("KUBESMITH_REQUIRE_BUNDLE") == "1":
            pytest.fail(f"{path} missing: `make bundle` must run before these tests")
        pytest.skip("no bundle built (run `make bundle`)")
    return json.loads(path.read_text())
