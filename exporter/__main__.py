"""``python -m exporter``: the ``site-status`` command."""

import sys

from exporter.entry import main

sys.exit(main())
