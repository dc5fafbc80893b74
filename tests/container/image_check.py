"""The container image built with podman and run against a local Prometheus (scripts/image-test).

Not part of the pytest run: building takes minutes. Steps, each printed as it passes:

1. a base image: Debian bookworm made here with debootstrap from Debian's packages (the mirror
   apt uses; python3, python3-venv) and imported into podman. No container registry is asked:
   this machine reaches Debian's packages and PyPI, nothing else;
2. slogate's wheels built on the host with its own pip, mounted into the build, which then runs
   with no network (`--network none`): the image's install step is `pip install '.[otlp]'`;
3. a Prometheus on 127.0.0.1 holding the demo's history; the container in its own network
   namespace (slirp4netns) reaching it through slirp's alias of the host's loopback, its port
   published on 127.0.0.1 only;
4. checks: /healthz, /readyz, gate decisions from the live figures, the image's HEALTHCHECK, the
   process's user (10001, not root), the three volumes, and the store surviving a restart on its
   named volume.

This VM's kernel leaves podman's defaults unusable, so the run uses its own containers.conf:
crun fails with "setrlimit `RLIMIT_NOFILE`: Operation not permitted" (no CAP_SYS_RESOURCE to
raise limits to podman's defaults) and "cgroups in hybrid mode not supported, drop all
controllers from cgroupv2"; runc with limits at the host's own values runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from slogate.cli.demo import write_history
from slogate.cli.localprom import LocalPrometheus, free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL_BASE = "localhost/slogate-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_LOOPBACK = "10.0.2.2"
"""slirp4netns' address for the host's 127.0.0.1 (with allow_host_loopback)."""
EXPECTED_VOLUMES = {"/specs", "/etc/slogate", "/var/lib/slogate"}
UID = "10001"
ADMIN_TOKEN = "image-test-admin-token-0123456789"


def run(args: Sequence[str], timeout: float = 900, check: bool = True) -> str:
    """A command's stdout; its output in the error when it fails."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def podman(*args: str, timeout: float = 900, check: bool = True) -> str:
    return run(["podman", *args], timeout=timeout, check=check)


def ok(what: str) -> None:
    print(f"ok: {what}", flush=True)


def containers_conf(directory: Path) -> Path:
    """runc, with every container's limits at this process' own (which it may not raise)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
    path = directory / "containers.conf"
    path.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
    )
    return path


def base_image(workdir: Path) -> str:
    """A Debian base made here (kept between runs as `LOCAL_BASE`)."""
    if image_exists(LOCAL_BASE):
        ok(f"base {LOCAL_BASE} (made earlier with debootstrap)")
        return LOCAL_BASE
    rootfs = workdir / "rootfs"
    run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv",
            "bookworm",
            str(rootfs),
            DEBIAN_MIRROR,
        ],
        timeout=1200,
    )
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["podman", "import", "-", LOCAL_BASE], stdin=tar.stdout, check=True)
    tar.wait(60)
    ok(f"base {LOCAL_BASE} made with debootstrap from Debian's packages")
    return LOCAL_BASE


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def build(image: str, base: str, workdir: Path) -> None:
    wheels = workdir / "wheels"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--wheel-dir",
            str(wheels),
            f"{ROOT}[otlp]",
            "setuptools>=68",
            "wheel",
        ]
    )
    podman(
        "build",
        "--format",
        "docker",  # OCI images have no HEALTHCHECK: podman would drop it
        "--network",
        "none",
        "--volume",
        f"{wheels}:/wheels:ro",
        "--build-arg",
        f"BASE={base}",
        "--build-arg",
        "PIP_FIND_LINKS=/wheels",
        "--build-arg",
        "PIP_NO_INDEX=1",
        "-t",
        image,
        str(ROOT),
        timeout=1200,
    )
    ok(f"{image} built on {base}, installed from wheels with no network")


def eventually(check: Callable[[], Any], what: str, within: float = 90.0) -> Any:
    deadline, last = time.monotonic() + within, None
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"gave up waiting for {what} after {within:g} s (last: {last!r})")


def check_image_config(image: str) -> None:
    config = json.loads(podman("image", "inspect", image))[0]["Config"]
    assert config["User"] == f"{UID}:{UID}", config["User"]
    assert set(config["Volumes"]) == EXPECTED_VOLUMES, config["Volumes"]
    ok(f"image runs as {config['User']} with volumes {sorted(config['Volumes'])}")


def check_running(name: str, url: str) -> None:
    health = eventually(lambda: httpx.get(f"{url}/healthz", timeout=2), "/healthz")
    assert health.status_code == 200
    ok("/healthz 200")

    def ready() -> dict[str, Any] | None:
        response = httpx.get(f"{url}/readyz", timeout=2)
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 else None

    body = eventually(ready, "/readyz 200 (a first evaluation against Prometheus)")
    assert body["slos"] == 6, body
    ok("/readyz 200: 6 SLOs from /specs evaluated against the host's Prometheus")
    for service, decision in (("checkout", "allow"), ("payments", "deny")):
        answer = httpx.get(f"{url}/v1/gate", params={"service": service}, timeout=5).json()
        assert answer["decision"] == decision, answer
    ok("gate: checkout allow, payments deny (fast burn) from the live figures")
    podman("healthcheck", "run", name, timeout=60)
    ok("the image's HEALTHCHECK passes")
    status = podman("exec", name, "cat", "/proc/1/status")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {UID}, uids
    assert podman("exec", name, "id", "-u").strip() == UID
    ok(f"slogate runs as uid {UID} (real, effective, saved), not root")


def check_store_survives_restart(name: str, url: str, volume: str) -> None:
    before = httpx.get(f"{url}/v1/decisions", timeout=5).json()["decisions"]
    assert len(before) >= 2, before
    mountpoint = Path(json.loads(podman("volume", "inspect", volume))[0]["Mountpoint"])
    store = mountpoint / "slogate.db"
    assert store.exists() and str(store.stat().st_uid) == UID, store
    podman("restart", "-t", "10", name, timeout=120)
    eventually(lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200, "restart")
    after = httpx.get(f"{url}/v1/decisions", timeout=5).json()["decisions"]
    ids = {d["decision_id"] for d in after}
    assert {d["decision_id"] for d in before} <= ids, (before, after)
    ok(f"the decision audit lives on volume {volume} (owned by {UID}) and survives a restart")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", default="localhost/slogate:image-test")
    parser.add_argument(
        "--base", help="a base image to build on (default: one made with debootstrap)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slogate-image-") as tmp:
        workdir = Path(tmp)
        os.environ["CONTAINERS_CONF"] = str(containers_conf(workdir))
        base = args.base or base_image(workdir)
        build(args.image, base, workdir)
        check_image_config(args.image)
        anchor = math.floor(time.time() / 60) * 60
        prom_dir = workdir / "prometheus"
        prom_dir.mkdir()
        write_history(prom_dir, anchor, end=3 * 3600)
        prometheus = LocalPrometheus(prom_dir)
        prometheus.start()
        name = volume = f"slogate-image-test-{os.getpid()}"
        conf = workdir / "etc"
        conf.mkdir()
        (conf / "slogate.yaml").write_text("evaluation: {interval: 10s}\n")
        port = free_port()
        try:
            podman("volume", "create", volume)
            podman(
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "slirp4netns:allow_host_loopback=true",
                "-p",
                f"127.0.0.1:{port}:8080",
                "-e",
                f"SLOGATE_ADMIN_TOKEN={ADMIN_TOKEN}",
                "-v",
                f"{ROOT / 'slo_specs'}:/specs:ro",
                "-v",
                f"{conf}:/etc/slogate:ro",
                "-v",
                f"{volume}:/var/lib/slogate",
                args.image,
                "--config",
                "/etc/slogate/slogate.yaml",
                "--prometheus-url",
                f"http://{HOST_LOOPBACK}:{prometheus.port}",
                timeout=120,
            )
            url = f"http://127.0.0.1:{port}"
            check_running(name, url)
            check_store_survives_restart(name, url, volume)
        except BaseException:
            print(podman("logs", "--tail", "50", name, check=False), file=sys.stderr)
            raise
        finally:
            podman("rm", "-f", "-t", "5", name, check=False)
            podman("volume", "rm", "-f", volume, check=False)
            prometheus.stop()
    print("image test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
