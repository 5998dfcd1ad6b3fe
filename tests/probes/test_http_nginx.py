"""The http probe against Debian's nginx: a real server's framing, keep-alive and redirects."""

from __future__ import annotations

from pathlib import Path

from exporter.status import Status
from probes.http.probe import KIND, HttpProbe
from tests.support.context import make_context
from tests.support.nginx import running_nginx

LOCATIONS = """
    location = /healthz { default_type application/health+json;
                          return 200 '{"status":"pass","checks":{"php:fpm":[{"status":"pass"}]}}'; }
    location = /actuator/health { default_type application/json;
                          return 503 '{"status":"OUT_OF_SERVICE"}'; }
    location = /old { return 301 /healthz; }
    location = /loop { return 302 /loop; }
"""


async def test_nginx_endpoints(tmp_path: Path) -> None:
    with running_nginx(tmp_path, LOCATIONS) as base:

        async def grade(path: str, **options: object) -> tuple[Status, str]:
            config = HttpProbe.model_validate(
                {"name": "n", "kind": "http", "url": base + path, **options}
            )
            result = await KIND.run(config, make_context(3))
            return result.status, result.summary

        assert (await grade("/healthz"))[0] is Status.OK
        # Spring sends OUT_OF_SERVICE with 503 on purpose: the body decides.
        status, summary = await grade("/actuator/health")
        assert (status, summary) == (Status.WARNING, "OUT_OF_SERVICE")
        # An expect_status the user sets still applies.
        status, summary = await grade("/actuator/health", expect_status=["2xx"])
        assert status is Status.CRITICAL
        assert summary == "HTTP 503, expected 2xx; OUT_OF_SERVICE"
        assert (await grade("/old"))[0] is Status.OK  # redirect followed
        status, summary = await grade("/old", max_redirects=0)
        assert status is Status.OK  # 3xx is expected by default when not following
        status, summary = await grade("/loop", max_redirects=3)
        assert status is Status.CRITICAL
        assert "too many redirects" in summary
