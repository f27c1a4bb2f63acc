"""Resumable HTTP downloads: a ``.part`` file continued with a Range request."""

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kubesmith import log
from kubesmith.errors import KubesmithError

TIMEOUT = 60
PROGRESS_EVERY = 15.0
BLOCK = 1 << 20


@dataclass(frozen=True)
class Downloaded:
    """What one download moved over the network (``resumed_at``: bytes kept from a .part)."""

    received: int
    resumed_at: int


def _open(url: str, offset: int) -> http.client.HTTPResponse:
    headers = {"User-Agent": "kubesmith"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, see fetch
    response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310
    return response


def read_small(url: str, limit: int = 1 << 20) -> str:
    """A checksum file's text."""
    try:
        with _open(url, 0) as response:
            return response.read(limit).decode()
    except urllib.error.HTTPError as err:
        raise KubesmithError(f"could not download {url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise KubesmithError(f"could not download {url}: {_reason(err)}") from err


def download(url: str, part: Path, label: str) -> Downloaded:
    """Download ``url`` into ``part``, continuing what an earlier run left there."""
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return Downloaded(0, offset)  # the .part already holds the whole file
        raise KubesmithError(f"could not download {url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise KubesmithError(f"could not download {url}: {_reason(err)}") from err
    with response:
        if offset and response.status != 206:
            log.info(f"{label}: the server ignored the range request, starting over")
            offset = 0
        total = offset + int(response.headers.get("Content-Length") or 0)
        if offset:
            log.info(f"{label}: resuming at {offset / 2**20:.1f} MiB")
        received = 0
        last = time.monotonic()
        try:
            with part.open("ab" if offset else "wb") as out:
                while block := response.read(BLOCK):
                    out.write(block)
                    received += len(block)
                    if time.monotonic() - last > PROGRESS_EVERY:
                        last = time.monotonic()
                        log.info(f"{label}: {_mib(offset + received)} of {_mib(total)}")
        except (OSError, http.client.HTTPException) as err:
            raise KubesmithError(
                f"download of {url} interrupted after {_mib(offset + received)} "
                f"({_reason(err)}); run the same command again to resume it"
            ) from err
    size = part.stat().st_size
    if total and size != total:
        raise KubesmithError(
            f"download of {url} stopped at {_mib(size)} of {_mib(total)}; "
            "run the same command again to resume it"
        )
    return Downloaded(received, offset)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return str(reason or err) or type(err).__name__
