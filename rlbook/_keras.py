"""Import Keras 3 on the TensorFlow backend, quietly, whatever the reader's defaults.

TensorFlow's native libraries log to the process's standard error as they load ("Could not
find cuda drivers", "oneDNN custom operations are on", absl's "All log messages before
absl::InitializeLog()"), below Python and before ``TF_CPP_MIN_LOG_LEVEL`` is read by all of
them. The import runs with file descriptor 2 sent to a temporary file, and whatever it wrote
that is not such start-up noise is passed on.

On x86, TensorFlow runs its graphs on oneDNN's kernels only on the CPUs it picks (newer ones with
AVX-512 extensions); elsewhere (an AVX2 laptop, a Zen 3 EPYC) its graphs run on its own kernels,
which its start-up message says are built without AVX2 and FMA. rlbook asks for oneDNN on every
x86 CPU: on a 2-core Zen 3 EPYC a plain-graph Nature-DQN update took 39-43 ms with it against
50-56 ms without, and the XLA update did not change (XLA brings its own kernels). A reader's own
``TF_ENABLE_ONEDNN_OPTS`` wins.
"""

import contextlib
import os
import platform
import re
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_dnn|cuda_fft|cuda_blas|cuInit|cuda drivers"
    r"|oneDNN custom operations|cpu_feature_guard|rebuild TensorFlow with the appropriate"
    r"|Unable to register cu|computation placer already registered|TF-TRT Warning"
)


@contextlib.contextmanager
def _native_stderr_filtered():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not _NOISE.search(line)
            ]
            sys.stderr.write("".join(kept))


with _native_stderr_filtered():
    import keras
    import tensorflow as tf

    tf.constant(0)  # the first op loads the CPU and CUDA runtimes, which log as they come up

if keras.backend.backend() != "tensorflow":
    raise RuntimeError(
        f"rlbook needs Keras on the TensorFlow backend, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}; unset it or set KERAS_BACKEND=tensorflow"
    )

__all__ = ["keras", "tf"]
