"""PromQL building blocks shared by the rules and the dashboards.

Probe series carry no site labels: each exporter publishes its site once, in
``site_status_site_info``, and queries join on the target labels (the cluster, ``job``,
``instance``). The cluster is in every join and every ``by``: exporters in two clusters can
have the same ``instance`` (pod IPs repeat across clusters built with the same pod CIDR), and
the same site name, so ``job, instance`` alone would mix them on a shared store.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixin.config import MixinConfig

SITE_LABELS = ("site", "environment", "tier", "profile")


@dataclass(frozen=True)
class PromQL:
    config: MixinConfig

    def metric(self, name: str, *matchers: str) -> str:
        """``name{<selector>,<matchers>}``."""
        return f"{name}{{{', '.join((self.config.selector, *matchers))}}}"

    @property
    def cluster(self) -> str:
        return self.config.cluster_label

    @property
    def on_target(self) -> str:
        return f"on({', '.join(self.config.target_key)})"

    @property
    def target_by(self) -> str:
        return f"by ({', '.join(self.config.target_key)})"

    @property
    def site_labels(self) -> tuple[str, ...]:
        """A site's labels with its cluster: what a per-site ``by`` keeps."""
        return (self.cluster, *SITE_LABELS)

    @property
    def on_site(self) -> str:
        """Matches one site: its name and environment, in its cluster."""
        return f"on({self.cluster}, site, environment)"

    def info(self, *matchers: str) -> str:
        return self.metric("site_status_site_info", *matchers)

    def remembered_info(self, *matchers: str) -> str:
        """Each target's info series as last seen within the identity lookback: the site of a
        target that stopped answering (its own series are stale)."""
        return f"last_over_time({self.info(*matchers)}[{self.config.identity_lookback}])"

    def last_identity(self, *matchers: str) -> str:
        """One identity per target (topk keeps one if its site labels changed meanwhile)."""
        return f"topk {self.target_by} (1, {self.remembered_info(*matchers)})"

    def with_site(self, expr: str, *info_matchers: str) -> str:
        """``expr`` with the site's labels added (its value is kept: the info series is 1)."""
        labels = ", ".join(SITE_LABELS)
        return f"({expr})\n* {self.on_target} group_left({labels})\n  {self.info(*info_matchers)}"

    def unless_maintenance(self, expr: str) -> str:
        maintenance = self.metric("site_status_maintenance")
        return f"{expr}\nunless {self.on_target}\n  {maintenance} == 1"
