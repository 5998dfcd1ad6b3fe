"""The site's cluster (``site.cluster``): from the config or the environment, in the reports
(a Loki stream label and the line), in ``/status`` and on the status page; absent where unset."""

from __future__ import annotations

import time

import jsonschema
import pytest

from exporter.config import ConfigInvalid, Site, parse_config
from exporter.probe_api import Result
from exporter.registry import default_registry
from exporter.reports.loki.streams import report_labels
from exporter.reports.schema import transition_report
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from exporter.web.page import render_page
from exporter.web.status_doc import site_document
from tests.support.reports import validate_report


def report_of(site: Site) -> dict[str, object]:
    store = ResultStore()
    store.configure([ProbeSpec("frontpage", "http", 60)])
    store.record("frontpage", Result(Status.CRITICAL, "HTTP 503"), 0.01)
    report = transition_report(site, store.views()[0], Status.OK, time.time())
    validate_report(report)
    return report


def test_the_environment_names_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_STATUS_SITE__CLUSTER", "dr")
    config = parse_config("site: {name: shop, cluster: prod}\n", default_registry())
    assert config.site.cluster == "dr"


@pytest.mark.parametrize("bad", ["a b", "x" * 64, 'dr"}'])
def test_a_cluster_that_cannot_be_a_bounded_label_is_refused(bad: str) -> None:
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(f"site: {{name: shop, cluster: '{bad}'}}\n", default_registry())
    assert "site.cluster" in str(raised.value)


def test_reports_carry_the_cluster_as_a_stream_label_and_in_the_line() -> None:
    report = report_of(Site(name="shop", cluster="dr"))
    assert report["site"] == {
        "name": "shop",
        "environment": "prod",
        "tier": "besteffort",
        "profile": "",
        "cluster": "dr",
    }
    assert report_labels(report)["cluster"] == "dr"


def test_without_a_cluster_reports_are_as_before() -> None:
    report = report_of(Site(name="shop"))
    assert "cluster" not in report["site"]  # type: ignore[operator]
    assert "cluster" not in report_labels(report)


def test_the_schema_refuses_an_empty_cluster() -> None:
    report = report_of(Site(name="shop", cluster="dr"))
    report["site"]["cluster"] = ""  # type: ignore[index]
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def test_status_document_and_page_show_the_cluster() -> None:
    site = Site(name="shop", cluster="dr")
    assert site_document(site, [], 0.0)["site"]["cluster"] == "dr"
    page = render_page(site, [], 0.0).decode()
    assert '<dt>cluster</dt><dd id="site-cluster">dr</dd>' in page
    assert 'id="site-cluster"' not in render_page(Site(name="shop"), [], 0.0).decode()
