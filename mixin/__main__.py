from __future__ import annotations

import sys

from mixin.generate import main

sys.exit(main())
