"""Promotion checks: before a release goes to the next environment, is it healthy where it
runs already? ``--match`` selects the sites to be promoted to (``cluster="prod"``);
``--promote-from`` the environment that runs the release already (``cluster="test"``). Each
selected site is judged by its namesake there, so a site that never ran the release there (no
namesake) fails, and a namesake that fails holds back the promotion of that site."""

from __future__ import annotations

from exporter.gate.matchers import Matcher, describe
from exporter.gate.model import SiteState
from exporter.gate.sources import PrometheusSource
from exporter.redact import redact_url


class PromotionSource:
    """The namesakes in ``source`` (matchers) of the sites that ``prometheus.match`` selects."""

    def __init__(self, prometheus: PrometheusSource, source: tuple[Matcher, ...]) -> None:
        self.prometheus = prometheus
        self.source = source

    def describe(self) -> str:
        url, to = redact_url(self.prometheus.url), describe(self.prometheus.matchers)
        return f"{url} {describe(self.source)}, for promotion to {to}"

    def read(self) -> list[SiteState]:
        targets = self.prometheus.read_matching(self.prometheus.matchers)
        tried: dict[str, list[SiteState]] = {}
        for site in self.prometheus.read_matching(self.source):
            tried.setdefault(site.site, []).append(site)
        judged: list[SiteState] = []
        for name in sorted({site.site for site in targets}):
            found = tried.get(name)
            if found:
                judged.extend(found)
                continue
            reason = f"not found in {describe(self.source)}: the release did not run there"
            judged.append(SiteState(name, None, missing_reason=reason))
        return judged
