import atexit
import os
import shutil
import tempfile

# Tests never write into the committed charts/ folder, and run the notebooks small.
os.environ.setdefault("RLBOOK_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Update paths timed under a test suite's load are no guide to training: keep them out of the
# user's cache (child processes, the notebooks' kernels among them, inherit this).
_cache = tempfile.mkdtemp(prefix="rlbook-test-cache-")
os.environ["XDG_CACHE_HOME"] = _cache
atexit.register(shutil.rmtree, _cache, ignore_errors=True)
