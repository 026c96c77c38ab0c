from __future__ import annotations

import sys

from .stack import main

sys.exit(main())
