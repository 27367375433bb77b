"""Separate hosts on one machine: network namespaces on a private bridge.

Each host is a network namespace with one veth link to a bridge in the root namespace; the
bridge has an address too, so the test process (the "operator's laptop") reaches every host.
Nothing is routed beyond the bridge: traffic stays between these namespaces. A host's link can
be cut and restored (`ip link set ... down/up`), as a network partition.

The shared data folder is an NFS stand-in: one directory, bind-mounted by every host that needs
it at the same path, inside that host's own mount namespace (`ip netns exec` gives each command
one), so a host sees the shared files only through its mount.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None when they can)."""
    probe = f"rfprobe{uuid.uuid4().hex[:6]}"
    try:
        run("ip", "netns", "add", probe)
    except FileNotFoundError:
        return "the `ip` command (iproute2) is not installed"
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` failed: {exc.stderr.decode(errors='replace').strip()}"
    with contextlib.suppress(subprocess.CalledProcessError):
        run("ip", "netns", "del", probe)
    return None


@dataclass
class Host:
    """One network namespace with an address on the bridge."""

    name: str  # the namespace
    address: str
    link: str  # the root-namespace end of its veth pair

    def launcher(self, mounts: dict[Path, Path] | None = None) -> list[str]:
        """The command prefix that runs a program on this host, with `mounts` (source -> mount
        point) bound inside its own mount namespace first."""
        prefix = ["ip", "netns", "exec", self.name]
        if not mounts:
            return prefix
        binds = " && ".join(
            f"mount --bind {shlex.quote(str(src))} {shlex.quote(str(dst))}"
            for src, dst in mounts.items()
        )
        return [*prefix, "sh", "-c", f'{binds} && exec "$@"', "host"]


@dataclass
class Topology:
    """Hosts on a private /24 behind one bridge; `close()` removes all of it."""

    subnet: str = field(default_factory=lambda: f"10.{200 + uuid.uuid4().int % 50}."
                        f"{uuid.uuid4().int % 250}")  # fmt: skip
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def bridge(self) -> str:
        return f"rfbr{self.tag}"

    @property
    def operator_address(self) -> str:
        return f"{self.subnet}.254"

    def open(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.operator_address}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    def add_host(self, label: str) -> Host:
        number = len(self.hosts) + 1
        namespace, link = f"rf{self.tag}{label}", f"rf{self.tag}{label}r"
        host = Host(namespace, f"{self.subnet}.{number}", link)
        run("ip", "netns", "add", namespace)
        run("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        run("ip", "link", "set", link, "master", self.bridge)
        run("ip", "link", "set", link, "up")
        inside = ("ip", "netns", "exec", namespace)
        run(*inside, "ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
        run(*inside, "ip", "link", "set", "eth0", "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        self.hosts[label] = host
        return host

    def cut(self, label: str) -> None:
        """Partition a host: its link goes down (its processes keep running)."""
        run("ip", "link", "set", self.hosts[label].link, "down")

    def restore(self, label: str) -> None:
        run("ip", "link", "set", self.hosts[label].link, "up")

    def close(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(subprocess.CalledProcessError):
                run("ip", "netns", "del", host.name)  # also removes its veth pair
        with contextlib.suppress(subprocess.CalledProcessError):
            run("ip", "link", "del", self.bridge)
