import sys

from rlbook.cli import main

sys.exit(main())
