"""``python -m components.cli``: the same command line as the installed ``eksa-firewall``."""

import sys

from . import main

sys.exit(main())
