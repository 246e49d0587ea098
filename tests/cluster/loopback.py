"""A Ray cluster of several nodes on this machine, started with `ray start` as on real machines.

Every node joins the head at 127.0.0.1 with token authentication on (the token in each node's
environment, as on a real cluster), and every process the cluster starts is found again by the
head's port and temporary folder, so that stopping it ends those processes and no others.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rlbook

RAY = str(Path(sys.executable).with_name("ray"))
REPO = str(Path(rlbook.__file__).resolve().parents[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes() -> dict[int, tuple[int, str]]:
    """Every process of this machine: pid -> (parent pid, command line)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            command = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(name)] = (parent, command)
    return found


def tree(roots: set[int], table: dict[int, tuple[int, str]]) -> set[int]:
    """``roots`` and every process below them."""
    found, grew = set(roots), True
    while grew:
        grew = False
        for pid, (parent, _) in table.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class StartError(RuntimeError):
    """`ray start` failed."""


class LoopbackCluster:
    """A head (no CPUs: trials run on workers) and worker nodes of ``cpus`` CPUs each."""

    def __init__(self, workers: int = 2, cpus: int = 1, memory: int = 3 * 10**9):
        self.token = secrets.token_hex(32)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Short: Ray's socket paths under it must stay below the 107 characters Unix allows.
        self.temp = tempfile.mkdtemp(prefix="rlbk", dir="/tmp")
        self.cpus, self.memory = cpus, memory
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.env.pop("RAY_ADDRESS", None)
        self.workers: list[int] = []  # each worker node's node manager port
        try:
            head = ["--head", f"--port={self.port}", "--num-cpus=0", f"--memory={10**9}"]
            self._start_again_on_failure(head, leftovers=self.temp)
            self.add_workers(workers)
        except BaseException:
            self.stop()
            raise

    def _start(self, args: list[str]) -> None:
        ports = [
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}",
        ]
        if "--head" in args:
            ports += [
                f"--temp-dir={self.temp}",
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                f"--ray-client-server-port={free_port()}",
            ]
        command = [RAY, "start", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
        done = subprocess.run(
            command + args + ports, env=self.env, capture_output=True, text=True, timeout=180
        )
        if done.returncode:
            raise StartError(f"`ray start {' '.join(args)}` failed:\n{done.stderr[-3000:]}")

    def _start_again_on_failure(self, args: list[str], leftovers: str, tries: int = 4) -> None:
        """``_start``, tried again after a failure: a busy machine misses Ray's deadlines."""
        for attempt in range(tries):
            try:
                return self._start(args)
            except StartError:
                table = processes()
                kill(tree({p for p, (_, c) in table.items() if leftovers in c}, table))
                if attempt == tries - 1:
                    raise
                time.sleep(2)

    def add_workers(self, count: int) -> None:
        for _ in range(count):
            port = free_port()
            worker = [
                f"--address={self.address}",
                f"--num-cpus={self.cpus}",
                f"--memory={self.memory}",
                f"--node-manager-port={port}",
            ]
            self._start_again_on_failure(worker, leftovers=f"--node_manager_port={port}")
            self.workers.append(port)

    def own_processes(self) -> set[int]:
        """Every process this cluster started, and theirs."""
        table = processes()
        marks = (self.temp, f":{self.port} ", f":{self.port}\n")
        roots = {
            pid
            for pid, (_, command) in table.items()
            if pid != os.getpid() and any(mark in command + "\n" for mark in marks)
        }
        return tree(roots, table)

    def kill_node_of(self, pid: int) -> None:
        """SIGKILL the raylet of the worker node that runs process ``pid``, and all below it."""
        table = processes()
        raylet = table[pid][0]
        assert "raylet" in table[raylet][1], table[raylet][1]
        kill(tree({raylet}, table))
        port = next(p for p in self.workers if f"--node_manager_port={p}" in table[raylet][1])
        self.workers.remove(port)

    def kill_head(self) -> None:
        """SIGKILL the head's GCS server: the cluster's head is lost."""
        table = processes()
        gcs = {p for p, (_, c) in table.items() if "gcs_server" in c and self.temp in c}
        assert gcs, "no GCS server of this cluster is running"
        kill(gcs)

    def stop(self) -> None:
        """End every process of the cluster, and check that none is left."""
        for _ in range(20):
            left = self.own_processes()
            if not left:
                break
            kill(left)
            time.sleep(0.5)
        zombies_only = all(_is_zombie(pid) for pid in self.own_processes())
        shutil.rmtree(self.temp, ignore_errors=True)
        assert zombies_only, f"processes of the cluster still run: {self.own_processes()}"


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
