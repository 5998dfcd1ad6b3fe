from __future__ import annotations

import sys

try:
    from mixin.generate import main
except ModuleNotFoundError as error:
    if not (error.name or "").startswith("grafana_foundation_sdk"):
        raise
    sys.exit(
        "python -m mixin: the dashboards need Grafana's SDK: "
        "pip install 'site-status-exporter[mixin]' (or '.[mixin]' in a checkout)"
    )

sys.exit(main())
