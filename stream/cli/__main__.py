"""``python -m stream.cli``: the same as the ``addlink`` console script."""

import sys

from stream.cli import main

sys.exit(main())
