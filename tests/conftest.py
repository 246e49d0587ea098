import atexit
import ctypes
import fcntl
import os
import shutil
import socket
import struct
import tempfile


def _only_loopback() -> bool:
    """Move the test session into a network namespace of its own, where only loopback exists.

    Ray listens on every interface of the machine and advertises the machine's own address,
    whatever address it is told; in a namespace whose one interface is loopback, the sweeps,
    clusters and servers that tests start can reach nothing but 127.0.0.1. Root (as in CI) makes
    the namespace directly; anyone else through a user namespace of their own, where the system
    allows one. ``RLBOOK_TEST_NETWORK=host`` runs the tests in the machine's own network.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET, as root
        # Without root, a user namespace of our own (we are its root, mapped to ourselves).
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(0x40000000 | 0x10000000) != 0:  # CLONE_NEWNET | CLONE_NEWUSER
            return False
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"0 {uid} 1"),
            ("gid_map", f"0 {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    # A new namespace's loopback starts down: bring it up (SIOCGIFFLAGS, then SIOCSIFFLAGS).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, request)[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))  # IFF_UP
    return True


# Before any test starts a thread or a process, so that all of them live in the namespace.
if os.environ.get("RLBOOK_TEST_NETWORK") != "host":
    _only_loopback()

# Tests never write into the committed charts/ folder, and run the notebooks small.
os.environ.setdefault("RLBOOK_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Update paths timed under a test suite's load are no guide to training: keep them out of the
# user's cache (child processes, the notebooks' kernels among them, inherit this).
_cache = tempfile.mkdtemp(prefix="rlbook-test-cache-")
os.environ["XDG_CACHE_HOME"] = _cache
atexit.register(shutil.rmtree, _cache, ignore_errors=True)
