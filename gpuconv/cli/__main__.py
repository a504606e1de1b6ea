"""``python -m gpuconv.cli``."""

import sys

from . import main

sys.exit(main())
