"""The sweep's connection to Ray: joining a cluster (token, memory, head) or starting one here.

On a cluster the driver checks what it can before a trial starts (the cluster answers, takes
this driver's token, has a node large enough for a trial), keeps Ray's own messages in the sweep
folder's ``ray.log``, and watches the head: Ray would wait a minute for a lost head, then end
this process with a page of its log, while the sweep says in one line how to go on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rlbook.files import RunError

NEEDS_RAY = "the sweep runs on Ray Tune, which is not installed: pip install -e '.[sweep]'"
TOKEN_HELP = (
    "start the driver with RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN (or in "
    "the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token); `ray get-auth-token` on the head "
    "prints it"
)
HEAD_CHECKS, HEAD_CHECK_EVERY_S = 3, 1.0  # the head is lost after 3 failed checks a second apart


def import_ray():
    """Ray and Ray Tune, or a RunError saying how to install them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise RunError(NEEDS_RAY) from None
    return ray, tune


@dataclass(frozen=True)
class Terminal:
    """Where the user reads while Ray's own output goes to the log: the saved stdout and stderr."""

    out_fd: int
    err_fd: int

    def say(self, line: str) -> None:
        """One line for the user: on the terminal, or where ``print`` writes (notebook, test)."""
        try:
            to_terminal = sys.stdout.fileno() == 1
        except (AttributeError, OSError, ValueError):
            to_terminal = False
        if to_terminal:
            os.write(self.out_fd, (line + "\n").encode())
        else:
            print(line, flush=True)


@contextlib.contextmanager
def ray_output_into(log: Path):
    """Send what this process writes to its stdout and stderr files into ``log``, for Ray's sake.

    Ray prints its C++ log, tracebacks and node reports (a page when a node dies) there; the
    sweep's own lines go to the ``Terminal`` this yields.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab") as target:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
    try:
        yield Terminal(*saved)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def connect(
    address: str | None = None, cpus_per_trial: int = 1, log: Path | None = None
) -> str | None:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start one on this machine.

    Nothing happens when this process is already connected. The address is tried first with a
    plain TCP connection, so a cluster that is not there is an error within seconds; a cluster
    that refuses this driver's token is one line that says so (Ray's own messages: ``log``).
    Returns the address joined, or None for a Ray of this process's own.
    """
    ray, _ = import_ray()
    if ray.is_initialized() and address:
        raise RunError(
            f"this process is already connected to a Ray cluster; call ray.shutdown() before "
            f"joining the one at {address}"
        )
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        if address:
            _check_reachable(address)
            _join(ray, address, quiet, log)
        else:
            _start_local_ray(ray, quiet)
    else:
        address = None  # joined before: its watch, if any, is its caller's
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < cpus_per_trial:
        raise RunError(
            f"a trial asks for {cpus_per_trial} CPUs, but the Ray cluster has {cpus:g}; "
            "ask for fewer (--cpus-per-trial)"
        )
    return address


def _join(ray, address: str, quiet: dict, log: Path | None) -> None:
    from ray.exceptions import AuthenticationError

    try:
        ray.init(address=address, **quiet)
    except AuthenticationError:
        raise RunError(f"the Ray cluster at {address} needs a token; {TOKEN_HELP}") from None
    except (ConnectionError, RuntimeError, ValueError) as error:
        said = log.read_text(errors="replace") if log and log.exists() else ""
        if "InvalidAuthToken" in said or "Unauthenticated" in said:
            raise RunError(
                f"the Ray cluster at {address} refused this driver's token (missing or wrong); "
                f"{TOKEN_HELP}"
            ) from None
        where = f"; Ray's messages are in {log}" if log else ""
        raise RunError(f"could not join the Ray cluster at {address}: {error}{where}") from None


def _check_reachable(address: str) -> None:
    if address == "auto":
        return  # Ray itself finds the cluster of this machine, or says there is none
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        raise RunError(
            f"no Ray cluster answers at {address} ({error}); start one there with "
            "`ray start --head`, or leave --address out to run on this machine"
        ) from None


def _host_port(address: str) -> tuple[str, int]:
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"bad Ray address {address!r}: write HOST:PORT (like 10.0.0.5:6379)")
    return host, int(port)


def _start_local_ray(ray, quiet: dict) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for attempt in (1, 2):
        try:
            # On the loopback address: a local Ray needs no network, nor a firewall's consent.
            ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
            return
        except Exception as error:  # Ray raises a bare Exception when its node times out
            if attempt == 2:
                raise RunError(
                    f"the local Ray did not start ({error}). Its helper processes must come up "
                    "within seconds, which a busy machine can miss; try again, or start one with "
                    "`ray start --head` and pass --address auto"
                ) from error
            ray.shutdown()


def check_memory(needs: Iterable[tuple[str, int]]) -> None:
    """Refuse a trial whose memory (``(name, bytes)``) no node of the cluster has."""
    import ray

    from rlbook.memory import gib

    largest = max(
        (node["Resources"].get("memory", 0) for node in ray.nodes() if node["Alive"]), default=0
    )
    for name, nbytes in needs:
        if nbytes > largest:
            raise RunError(
                f"trial {name} needs {nbytes:,} bytes ({gib(nbytes)}) for its replay memory, but "
                f"the largest node of the Ray cluster has {int(largest):,} bytes "
                f"({gib(largest)}); lower buffer_size, or add a node with more memory"
            )


@contextlib.contextmanager
def watching_head(address: str | None, resume_hint: str, terminal: Terminal):
    """While the sweep runs on a cluster it joined, end this process soon after the head is lost.

    The line written to the terminal's stderr (Ray's own is in the log) names the address, and
    ``resume_hint`` says how to go on.
    """
    import ray

    if not address:
        yield
        return
    gcs = ray.get_runtime_context().gcs_address
    host, port = _host_port(gcs)
    done = threading.Event()

    def watch() -> None:
        failures = 0
        while not done.wait(HEAD_CHECK_EVERY_S):
            try:
                socket.create_connection((host, port), timeout=HEAD_CHECK_EVERY_S).close()
                failures = 0
            except OSError:
                failures += 1
            if failures >= HEAD_CHECKS:
                line = (
                    f"error: lost the Ray cluster's head at {address} (nothing answers at {gcs}); "
                    f"the trials keep what they saved. Once a cluster is back, {resume_hint}\n"
                )
                os.write(terminal.err_fd, line.encode())
                # Ray's driver cannot go on without its head and would wait a minute to fail.
                os._exit(3)

    thread = threading.Thread(target=watch, name="rlbook-head-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
