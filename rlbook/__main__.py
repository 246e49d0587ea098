"""``python -m rlbook``: the command line (``rlbook.cli``)."""

import sys

from rlbook.cli import main

sys.exit(main())
