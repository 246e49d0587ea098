"""The sweep's connection to Ray: joining a cluster at an address, or starting one here."""

from __future__ import annotations

import logging
import os
import socket

from rlbook.files import RunError

NEEDS_RAY = "the sweep runs on Ray Tune, which is not installed: pip install -e '.[sweep]'"


def import_ray():
    """Ray and Ray Tune, or a RunError saying how to install them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise RunError(NEEDS_RAY) from None
    return ray, tune


def connect(address: str | None = None, cpus_per_trial: int = 1) -> None:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start one on this machine.

    Nothing happens when this process is already connected. The address is tried first with a
    plain TCP connection, so a cluster that is not there is an error within seconds.
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
            try:
                ray.init(address=address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise RunError(f"could not join the Ray cluster at {address}: {error}") from error
        else:
            _start_local_ray(ray, quiet)
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < cpus_per_trial:
        raise RunError(
            f"a trial asks for {cpus_per_trial} CPUs, but the Ray cluster has {cpus:g}; "
            "ask for fewer (--cpus-per-trial)"
        )


def _check_reachable(address: str) -> None:
    if address == "auto":
        return  # Ray itself finds the cluster of this machine, or says there is none
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"bad Ray address {address!r}: write HOST:PORT (like 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise RunError(
            f"no Ray cluster answers at {address} ({error}); start one there with "
            "`ray start --head`, or leave --address out to run on this machine"
        ) from None


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
