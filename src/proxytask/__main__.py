"""``python -m proxytask`` (and ``torchrun -m proxytask``) run the command line."""

import sys

from proxytask.cli import main

sys.exit(main())
