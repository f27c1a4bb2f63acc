#!/usr/bin/python
"""Whether the download role's tasks would all find their work done, in one call.

Checks what each task of roles/download/tasks/install.yml checks before it
acts, with the same owners and modes: the directories, each downloaded file
against the sha256 its upstream checksum file gives (fetched and read as
get_url reads it), each archive's unpacked marker file, and each installed
file's content against its source. Changes nothing; any doubt counts as
"not in place", so the tasks then run and decide as they always did.
"""

import grp
import hashlib
import io
import os
import posixpath
import pwd
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

DOCUMENTATION = r"""
module: kubesmith_downloads_current
short_description: Whether every download item is downloaded, verified, unpacked and installed
description:
  - Read-only check for the download role; C(current) is true only when none of
    the role's tasks would change anything.
options:
  items:
    description: The role's download_items.
    type: list
    elements: dict
    required: true
  cache_dir:
    description: The role's download_cache_dir.
    type: path
    required: true
  unpack_dir:
    description: The role's download_unpack_dir.
    type: path
    required: true
author: kubesmith maintainers
"""

# get_url's readings of a checksum file: "digest  path" (GNU) or "SHA256 (path) = digest" (BSD).
BSD_DIGEST_LINE = re.compile(r"^(\w+) ?\((?P<path>.+)\) ?= (?P<digest>[\w.]+)$")
GNU_DIGEST_LINE = re.compile(r"^(?P<digest>[\w.]+)\s+(\*|\.\/|\.)?(?P<path>.+)$")


def url_filename(url):
    return posixpath.basename(urlsplit(url).path) or "index.html"


def expected_digest(module, item):
    """The sha256 the checksum file gives for the item's URL, as get_url finds it
    (None when the file cannot be read or names no such file)."""
    response, info = fetch_url(module, item["checksum_url"])
    if response is None or info.get("status") != 200:
        return None
    try:
        text = response.read().decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = [line.rstrip("\n") for line in io.StringIO(text, newline=None)]
    filename = url_filename(item["url"])
    if len(lines) == 1 and len(lines[0].split()) == 1:
        entries = [(lines[0], filename)]
    else:
        entries = []
        for line in lines:
            bsd = BSD_DIGEST_LINE.match(line)
            gnu = None if bsd else GNU_DIGEST_LINE.match(line)
            if bsd:
                entries.append((bsd.group("digest"), bsd.group("path")))
            elif gnu:
                entries.append((gnu.group("digest"), gnu.group("path").lstrip("./")))
    digest = next((d for d, path in entries if path == filename), None)
    return None if digest is None else re.sub(r"\W+", "", digest).lower()


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Check:
    def __init__(self, module):
        self.module = module
        self.root_uid = pwd.getpwnam("root").pw_uid
        self.root_gid = grp.getgrnam("root").gr_gid
        self.problems = []

    def owned(self, path, kind, mode):
        """The path is a `kind` (not through a link), root's, with exactly this mode."""
        try:
            st = os.lstat(path)
        except OSError:
            self.problems.append(f"{path}: missing")
            return False
        if not kind(st.st_mode):
            self.problems.append(f"{path}: not the expected file type")
            return False
        if (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (self.root_uid, self.root_gid, mode):
            self.problems.append(f"{path}: owner, group or mode differ")
            return False
        return True

    def directory(self, path):
        return self.owned(path, stat.S_ISDIR, 0o755)

    def downloaded(self, item, path):
        if not self.owned(path, stat.S_ISREG, 0o644):
            return
        digest = expected_digest(self.module, item)
        if digest is None:
            filename = url_filename(item["url"])
            self.problems.append(f"{item['checksum_url']}: unreadable or no sha256 for {filename}")
        elif file_digest(path, "sha256") != digest:
            self.problems.append(f"{path}: sha256 differs from {item['checksum_url']}")

    def installed(self, src, dest):
        if not self.owned(dest, stat.S_ISREG, 0o755):
            return
        try:
            same = file_digest(src, "sha1") == file_digest(dest, "sha1")
        except OSError as exc:
            self.problems.append(f"{src}: {exc.strerror}")
            return
        if not same:
            self.problems.append(f"{dest}: differs from {src}")


def main():
    module = AnsibleModule(
        argument_spec={
            "items": {"type": "list", "elements": "dict", "required": True},
            "cache_dir": {"type": "path", "required": True},
            "unpack_dir": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    items = module.params["items"]
    cache_dir = module.params["cache_dir"]
    unpack_dir = module.params["unpack_dir"]
    check = Check(module)
    check.directory(cache_dir)
    check.directory(unpack_dir)
    # Paths are joined as the tasks join them.
    for item in items:
        cached = f"{cache_dir}/{item['name']}"
        check.downloaded(item, cached)
        unpacked = f"{unpack_dir}/{item['name']}"
        if item.get("unpack"):
            check.directory(unpacked)
            marker = f"{unpacked}/{item['install'][0]['src']}"
            if not Path(marker).exists():
                check.problems.append(f"{marker}: missing (archive not unpacked)")
        for install in item["install"]:
            check.directory(str(Path(install["dest"]).parent))
            src = f"{unpacked}/{install['src']}" if item.get("unpack") else cached
            check.installed(src, install["dest"])
    module.exit_json(changed=False, current=not check.problems, problems=check.problems)


if __name__ == "__main__":
    main()
