"""The download role on this machine (connection local), fed by a file server on
127.0.0.1 laid out like a release site: a re-run with everything in place is one
check and nothing else, and anything out of place still sends the role through
its tasks, which put it back."""

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INSTALL_TASKS = "TASK [download : Create the download cache]"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the role installs files owned by root")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def publish(site: Path, release: str) -> None:
    """An archive with two binaries and a plain binary, each with its checksum file."""
    (site / "rel").mkdir(parents=True, exist_ok=True)
    archive = site / "rel" / "tool.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("tool", "toolctl"):
            payload = site / name
            payload.write_text(f"{name} {release}\n")
            tar.add(payload, arcname=f"bin/{name}")
    (site / "rel" / "helper.amd64").write_text(f"helper {release}\n")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (site / "rel" / "tool.tar.gz.sha256sum").write_text(f"{digest}  tool.tar.gz\n")
    helper = hashlib.sha256((site / "rel" / "helper.amd64").read_bytes()).hexdigest()
    other = "0" * 64
    (site / "rel" / "SHA256SUMS").write_text(f"{other}  helper.arm64\n{helper}  helper.amd64\n")


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    publish(root, "1.0")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/rel"
    server.shutdown()


def converge(tmp_path: Path, base_url: str) -> str:
    out = tmp_path / "node"
    items = [
        {
            "name": "tool.tar.gz",
            "url": f"{base_url}/tool.tar.gz",
            "checksum_url": f"{base_url}/tool.tar.gz.sha256sum",
            "unpack": True,
            "install": [
                {"src": "bin/tool", "dest": f"{out}/bin/tool"},
                {"src": "bin/toolctl", "dest": f"{out}/bin/toolctl"},
            ],
        },
        {
            "name": "helper",
            "url": f"{base_url}/helper.amd64",
            "checksum_url": f"{base_url}/SHA256SUMS",
            "install": [{"dest": f"{out}/sbin/helper"}],
        },
    ]
    play = [
        {
            "name": "Download",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Download, verify, unpack and install",
                    "ansible.builtin.include_role": {"name": "download"},
                    "vars": {
                        "download_items": items,
                        "download_cache_dir": f"{out}/cache",
                        "download_unpack_dir": f"{out}/unpack",
                    },
                }
            ],
        }
    ]
    playbook = tmp_path / "download.yml"
    playbook.write_text(yaml.safe_dump(play))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_NOCOLOR": "1",
    }
    argv = [BIN / "ansible-playbook", "-i", "localhost,", "-c", "local", playbook]
    argv += ["-e", f"ansible_python_interpreter={sys.executable}"]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def changed(output: str) -> int:
    return int(re.search(r"changed=(\d+)", output.split("PLAY RECAP")[-1]).group(1))


def test_a_rerun_with_everything_in_place_is_one_check(tmp_path, site):
    root, base_url = site
    first = converge(tmp_path, base_url)
    assert changed(first) > 0
    assert (tmp_path / "node/bin/toolctl").read_text() == "toolctl 1.0\n"
    assert (tmp_path / "node/sbin/helper").read_text() == "helper 1.0\n"

    again = converge(tmp_path, base_url)
    assert changed(again) == 0
    assert INSTALL_TASKS not in again

    # Negative control: a tampered binary, a changed mode and a new upstream
    # release each send the role through its tasks, which put things right.
    installed = tmp_path / "node/bin/tool"
    installed.write_text("tampered\n")
    (tmp_path / "node/bin/toolctl").chmod(0o700)
    publish(root, "1.1")
    repaired = converge(tmp_path, base_url)
    assert INSTALL_TASKS in repaired and changed(repaired) > 0
    # An archive is unpacked once per name (unarchive: creates), as before.
    assert installed.read_text() == "tool 1.0\n"
    assert (tmp_path / "node/bin/toolctl").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "node/sbin/helper").read_text() == "helper 1.1\n"

    settled = converge(tmp_path, base_url)
    assert changed(settled) == 0
    assert INSTALL_TASKS not in settled
