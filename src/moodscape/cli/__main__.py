"""`python -m moodscape.cli`."""

import sys

from . import main

sys.exit(main())
