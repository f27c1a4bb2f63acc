#!/usr/bin/python
"""The keys that encrypt Secrets at rest, kept in one file on the controller."""

import base64
import datetime
import os
import secrets
import tempfile
from pathlib import Path

import yaml
from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: kubesmith_encryption_keys
short_description: Keep the keys that encrypt Secrets at rest (first key encrypts)
description:
  - The key file lists keys in the order the API servers try them; the first
    one encrypts new writes. Each key is 32 random bytes, base64-encoded, with
    the provider (secretbox or aescbc) it was made for.
  - The file is written with mode 0600 in a directory with mode 0700 and is
    replaced atomically. The module never returns key material, only names.
  - Rotation is three idempotent steps (add, promote, drop); each one is a
    no-op when it has already happened, so an interrupted rotation resumes.
options:
  path:
    description: The key file.
    type: path
    required: true
  step:
    description:
      - C(read) changes nothing (no file reads as no keys).
      - C(ensure) creates the file with one key when it does not exist.
      - C(add) adds a new key in second place when there is only one key (a
        rotation starts); with more keys, a rotation is under way and nothing
        changes.
      - C(promote) moves the newest key to the front.
      - C(drop) keeps only the first key; it refuses unless I(rewritten_with)
        names that key, i.e. everything stored has been rewritten with it.
    type: str
    choices: [read, ensure, add, promote, drop]
    default: read
  provider:
    description: Provider for keys this run creates (existing keys keep theirs).
    type: str
    choices: [secretbox, aescbc]
    default: secretbox
  rewritten_with:
    description: Name of the key every stored object was last rewritten with (for C(drop)).
    type: str
    default: ""
author: kubesmith maintainers
"""

HEADER = (
    "# Managed by kubesmith: the keys that encrypt Secrets at rest on this\n"
    "# cluster's API servers, in the order they are tried (the first encrypts).\n"
    "# Without this file the encrypted data cannot be read: back it up with the\n"
    "# rest of this folder. Rotate with playbooks/rotate-encryption-key.yml.\n"
)


def load(path):
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    keys = data.get("keys") or []
    for key in keys:
        missing = {"name", "provider", "secret", "serial"} - set(key)
        if missing:
            raise ValueError(f"{path}: a key lacks {', '.join(sorted(missing))}")
    return keys


def save(path, keys):
    """Replace the file atomically; it is never readable by others, not even
    while it is written (mkstemp creates it with mode 0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(HEADER)
            yaml.safe_dump({"keys": keys}, handle, sort_keys=False)
        tmp.replace(path)
    except BaseException:
        tmp.unlink()
        raise


def new_key(keys, provider):
    serial = max((k["serial"] for k in keys), default=0) + 1
    today = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
    return {
        "name": f"key{serial}-{today}",
        "serial": serial,
        "provider": provider,
        "secret": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    }


def apply_step(step, keys, provider, rewritten_with):
    """The key list after ``step``, or raise ValueError with what to do."""
    if keys is None:
        if step == "read":
            return None
        if step == "ensure":
            return [new_key([], provider)]
        raise ValueError(
            "no encryption keys yet: run playbooks/cluster.yml with "
            "kube_secrets_encryption_enabled true first"
        )
    if step == "add" and len(keys) == 1:
        return [*keys, new_key(keys, provider)]
    if step == "promote":
        newest = max(keys, key=lambda k: k["serial"])
        return [newest, *(k for k in keys if k is not newest)]
    if step == "drop" and len(keys) > 1:
        if rewritten_with != keys[0]["name"]:
            raise ValueError(
                f"refusing to drop keys {', '.join(k['name'] for k in keys[1:])}: stored "
                f"objects were last rewritten with '{rewritten_with or 'nothing recorded'}', "
                f"not with {keys[0]['name']}; objects written with a dropped key would "
                "become unreadable"
            )
        return keys[:1]
    return keys


def public(keys):
    return [{"name": k["name"], "provider": k["provider"]} for k in keys or []]


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "step": {
                "type": "str",
                "default": "read",
                "choices": ["read", "ensure", "add", "promote", "drop"],
            },
            "provider": {
                "type": "str",
                "default": "secretbox",
                "choices": ["secretbox", "aescbc"],
            },
            "rewritten_with": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    path = Path(module.params["path"])
    params = module.params
    try:
        before = load(path)
        after = apply_step(params["step"], before, params["provider"], params["rewritten_with"])
    except (ValueError, OSError, yaml.YAMLError) as exc:
        module.fail_json(msg=str(exc))
    changed = after != before
    if changed and not module.check_mode:
        save(path, after)
    module.exit_json(changed=changed, path=str(path), encryption_keys=public(after))


if __name__ == "__main__":
    main()
