"""Site identity from the environment the Deployment sets through the Downward API."""

from __future__ import annotations

import pytest

from exporter.config import ConfigInvalid, parse_config
from exporter.registry import default_registry

CONFIG = "site: {name: from-config, environment: prod, tier: flexprod, profile: os2web}\n"


def test_namespace_and_pod_labels_override_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_STATUS_SITE__NAME", "shop")  # metadata.namespace
    monkeypatch.setenv("SITE_STATUS_SITE__ENVIRONMENT", "staging")  # a pod label
    monkeypatch.setenv("SITE_STATUS_SITE__TIER", "priprod")
    site = parse_config(CONFIG, default_registry()).site
    assert (site.name, site.environment, site.tier, site.profile) == (
        "shop",
        "staging",
        "priprod",
        "os2web",
    )


def test_an_absent_pod_label_leaves_the_config_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Downward API gives "" for a label the pod does not have: that is no override."""
    monkeypatch.setenv("SITE_STATUS_SITE__TIER", "")
    monkeypatch.setenv("SITE_STATUS_SITE__PROFILE", "")
    site = parse_config(CONFIG, default_registry()).site
    assert (site.tier, site.profile) == ("flexprod", "os2web")


def test_a_wrong_label_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITE_STATUS_SITE__TIER", "gold")
    with pytest.raises(ConfigInvalid, match=r"site\.tier.*from environment SITE_STATUS_SITE__TIER"):
        parse_config(CONFIG, default_registry())
