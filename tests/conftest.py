import os

# Tests never write into the committed charts/ folder, and run the notebooks small.
os.environ.setdefault("RLBOOK_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
