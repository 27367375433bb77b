"""A throwaway redis-server on a free loopback port, stoppable and restartable on that port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """One redis-server subprocess; no persistence except an explicit `snapshot()`."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        durable: bool = False,
        host: str = "127.0.0.1",
        launcher: tuple[str, ...] = (),
    ) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.workdir = workdir
        self.port = port or free_port()
        # another host: an address of a network namespace, the command run through `launcher`
        # (`ip netns exec NAME`)
        self.host = host
        self.launcher = launcher
        # durable: an append-only file synced on every write, as production runs it
        self.durable = durable
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, decode_responses=True, socket_timeout=2)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [*self.launcher, self.binary, "--port", str(self.port), "--bind", self.host]
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else [
            "--appendonly", "no",
        ]  # fmt: skip
        cmd += ["--save", "", *persistence, "--daemonize", "no"]
        if self.host != "127.0.0.1":  # a private test subnet: no password, as on loopback
            cmd += ["--protected-mode", "no"]
        cmd += ["--dir", str(self.workdir)]
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - handed to the child
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.workdir / 'redis.log'}")
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout_s} s")

    def snapshot(self) -> None:
        """Write dump.rdb now, so the next start() comes back with today's data."""
        with self.client() as client:
            client.save()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); a no-op when not running."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
