"""``python -m adgate_async``: the same as the ``adgate-async`` command."""

import sys

from .cli import main

sys.exit(main())
