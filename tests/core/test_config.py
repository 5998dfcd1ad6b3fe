from __future__ import annotations

import textwrap

import pytest

from exporter.config import ConfigInvalid, load_config, parse_config
from exporter.registry import KindRegistry, default_registry


@pytest.fixture(scope="module")
def registry() -> KindRegistry:
    return default_registry()


def errors_of(text: str, registry: KindRegistry) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(textwrap.dedent(text), registry)
    return [str(error) for error in caught.value.errors]


def test_design_shape_is_valid(registry: KindRegistry) -> None:
    config = parse_config(
        textwrap.dedent("""
        site: {name: example-site, environment: prod, tier: priprod, profile: os2web}
        reports: {file: /var/lib/site-status/reports.jsonl}
        defaults: {interval: 60s, timeout: 10s}
        probes:
          - {name: forecast-file, kind: file, path: /data/forecast.nc,
             max_age: {warning: 2h, critical: 6h}}
          - {name: data-disk, kind: disk, path: /data, used_percent: {warning: 80, critical: 90}}
          - {name: data-disk-late, kind: disk, path: /data, interval: 5m, timeout: 30s,
             depends_on: [data-disk], critical: false}
    """),
        registry,
    )
    assert config.site.tier == "priprod"
    assert [p.name for p in config.probes] == ["forecast-file", "data-disk", "data-disk-late"]
    timing = config.timing(config.probe("data-disk-late"))
    assert (timing.interval, timing.timeout, timing.jitter) == (300, 30, 30)
    assert config.timing(config.probe("forecast-file")).interval == 60


def test_three_mistakes_are_all_named_with_their_paths(registry: KindRegistry) -> None:
    errors = errors_of(
        """
        site: {name: s, tier: gold}
        probes:
          - {name: a, kind: file, path: /x}
          - {name: b, kind: disk, path: /}
          - {name: c, kind: file, path: /y, max_age: {warning: soon, critical: 6h}}
          - {name: d, kind: load, colour: blue}
    """,
        registry,
    )
    assert len(errors) == 3, errors
    assert errors[0].startswith("site.tier (line 2): Input should be 'priprod'")
    assert errors[1].startswith("probes[2].max_age.warning (line 6): invalid duration 'soon'")
    assert errors[2] == "probes[3].colour (line 7): unknown key"


def test_unknown_top_level_key(registry: KindRegistry) -> None:
    assert errors_of("sites: {}\n", registry) == ["sites (line 1): unknown key; did you mean site?"]
    assert errors_of("colour: blue\n", registry) == ["colour (line 1): unknown key"]


def test_unknown_kind_lists_the_known_ones(registry: KindRegistry) -> None:
    [error] = errors_of("probes:\n  - {name: a, kind: nope}\n", registry)
    assert error.startswith("probes[0].kind (line 2): unknown probe kind 'nope'; known: disk,")


def test_missing_kind(registry: KindRegistry) -> None:
    [error] = errors_of("probes:\n  - {name: a}\n", registry)
    assert "probes[0]" in error
    assert "missing 'kind'" in error


def test_probe_graph_errors(registry: KindRegistry) -> None:
    errors = errors_of(
        """
        probes:
          - {name: a, kind: load, depends_on: [b]}
          - {name: b, kind: load, depends_on: [a, ghost]}
          - {name: a, kind: load}
    """,
        registry,
    )
    assert "probes[2].name (line 5): duplicate probe name 'a' (also probes[0], line 3)" in errors
    assert "probes[1].depends_on[1] (line 4): no probe named 'ghost'" in errors
    assert any("dependency cycle: a -> b -> a" in e for e in errors)


def test_timeout_longer_than_interval(registry: KindRegistry) -> None:
    [error] = errors_of(
        "probes:\n  - {name: a, kind: load, interval: 10s, timeout: 1m}\n", registry
    )
    assert error.startswith("probes[0].timeout (line 2): timeout (60s) is longer")


def test_duplicate_yaml_keys_and_syntax_errors(registry: KindRegistry) -> None:
    assert errors_of("site: {name: a}\nsite: {name: b}\n", registry) == [
        "site (line 2): duplicate key"
    ]
    [error] = errors_of("probes: [\n", registry)
    assert error.startswith("<config> (line ")
    assert "invalid YAML" in error


def test_environment_overrides_yaml(
    registry: KindRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_STATUS_SITE__NAME", "from-env")
    monkeypatch.setenv("SITE_STATUS_DEFAULTS__INTERVAL", "2m")
    monkeypatch.setenv("SITE_STATUS_CONFIG", "/not/a/config/key")
    config = parse_config("site: {name: from-yaml, tier: flexprod}\n", registry)
    assert config.site.name == "from-env"
    assert config.site.tier == "flexprod"
    assert config.defaults.interval == 120


def test_bad_environment_override_is_named(
    registry: KindRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_STATUS_SITE__TEIR", "priprod")
    assert errors_of("site: {name: x}\n", registry) == [
        "site.teir: unknown key; did you mean tier? (from environment SITE_STATUS_SITE__TEIR)"
    ]


def test_embedded_default_is_valid(registry: KindRegistry) -> None:
    config = load_config(None, registry)
    assert {p.kind for p in config.probes} == {"disk", "load", "mount"}


def test_unreadable_file(registry: KindRegistry, tmp_path: object) -> None:
    with pytest.raises(ConfigInvalid, match="cannot read"):
        load_config("/nonexistent/site-status.yaml", registry)


def test_loki_reports_config(registry: KindRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        textwrap.dedent("""
        reports:
          snapshot_interval: 5m
          loki:
            url: https://loki.example:3100
            tenant: ops
            basic_auth: {username: site-status, password_file: /run/secrets/loki-password}
            ca_file: /etc/ssl/loki-ca.pem
            batch_max_bytes: 512KiB
            batch_max_wait: 2s
            structured_metadata: true
            spool: {directory: /var/spool/site-status, max_bytes: 32MiB}
    """),
        registry,
    )
    loki = config.reports.loki
    assert loki is not None
    assert loki.push_url() == "https://loki.example:3100/loki/api/v1/push"
    assert (loki.batch_max_bytes, loki.batch_max_wait, loki.spool.max_bytes) == (
        512 * 1024,
        2.0,
        32 * 1024 * 1024,
    )
    assert not config.reports.writes_file(), "with Loki, the file only when asked for"
    monkeypatch.setenv("SITE_STATUS_REPORTS__LOKI__URL", "http://gw:8080/loki/api/v1/push")
    overridden = parse_config("reports: {loki: {url: http://x:3100}}", registry)
    assert overridden.reports.loki is not None
    assert overridden.reports.loki.push_url() == "http://gw:8080/loki/api/v1/push"


def test_loki_secrets_only_from_files(registry: KindRegistry) -> None:
    errors = errors_of(
        """
        reports:
          loki:
            url: http://user:hunter2@loki:3100
            password: hunter2
            basic_auth: {username: u, password_file: /run/p}
            bearer_token_file: /run/t
    """,
        registry,
    )
    assert "reports.loki.url (line 4): url must not hold credentials" in errors[0]
    assert "reports.loki.password (line 5): unknown key" in errors
    assert all("hunter2" not in error for error in errors)
    errors = errors_of(
        "reports: {loki: {url: http://l:3100, basic_auth: {username: u, password_file: /p}, "
        "bearer_token_file: /t}}",
        registry,
    )
    assert "basic_auth and bearer_token_file exclude each other" in errors[0]


# --- mistakes a new user makes ------------------------------------------------------------


def test_unknown_keys_suggest_the_nearest_known_key(registry: KindRegistry) -> None:
    errors = errors_of(
        """
        site: {name: x, enviroment: prod}
        defaults: {intervall: 30s}
        probes:
          - {name: d, kind: disk, pahth: /data}
          - {name: h, kind: http, url: 'http://127.0.0.1/', heders: {}}
          - {name: w, kind: disk, path: /, used_percent: {warnin: 80}}
          - {name: z, kind: load, zzzzzz: 1}
    """,
        registry,
    )
    assert errors == [
        "site.enviroment (line 2): unknown key; did you mean environment?",
        "defaults.intervall (line 3): unknown key; did you mean interval?",
        "probes[0].pahth (line 5): unknown key; did you mean path?",
        "probes[1].heders (line 6): unknown key; did you mean headers?",
        "probes[2].used_percent.warnin (line 7): unknown key; did you mean warning?",
        "probes[3].zzzzzz (line 8): unknown key",
    ]


def test_probe_entries_pasted_without_probes(registry: KindRegistry) -> None:
    [error] = errors_of(
        """
        - {name: frontpage, kind: http, url: 'http://127.0.0.1:8080/healthz'}
        - {name: data-disk, kind: disk, path: /data}
    """,
        registry,
    )
    assert error.endswith(
        "the config must be a YAML mapping (site:, reports:, defaults:, "
        "probes: ...); probe entries go under probes:"
    )
    errors = errors_of("name: data-disk\nkind: disk\npath: /data\n", registry)
    assert errors[0] == "<config> (line 1): this looks like a probe: probe entries go under probes:"


@pytest.mark.parametrize(
    ("probe", "path", "reason"),
    [
        (
            "{kind: load, load5: {warning: 4, critical: 2}}",
            "probes[0].load5",
            "warning (4) is above critical (2)",
        ),
        (
            "{kind: disk, path: /, used_percent: {warning: 95, critical: 90}}",
            "probes[0].used_percent",
            "warning (95%) is above critical (90%)",
        ),
        (
            "{kind: file, path: /x, max_age: {warning: 6h, critical: 2h}}",
            "probes[0].max_age",
            "warning (6h) is above critical (2h)",
        ),
        # lower is worse: a minimum size, the days a certificate has left
        (
            "{kind: file, path: /x, min_size: {warning: 1KiB, critical: 1MiB}}",
            "probes[0].min_size",
            "warning (1KiB) is below critical (1MiB)",
        ),
        (
            "{kind: http, url: 'https://x/', cert_expiry_days: {warning: 3, critical: 7}}",
            "probes[0].cert_expiry_days",
            "warning (3) is below critical (7)",
        ),
    ],
)
def test_warning_beyond_critical_is_an_error(
    probe: str, path: str, reason: str, registry: KindRegistry
) -> None:
    [error] = errors_of(f"probes:\n  - {{name: p, {probe[1:]}\n", registry)
    assert error.startswith(f"{path} (line 2): {reason}")


@pytest.mark.parametrize(
    "probe",
    [
        "{kind: load, load5: {warning: 2, critical: 4}}",
        "{kind: load, load5: {warning: 3, critical: 3}}",
        "{kind: file, path: /x, min_size: {warning: 1MiB, critical: 1KiB}}",
        "{kind: http, url: 'https://x/', cert_expiry_days: {warning: 30, critical: 7}}",
        # Nagios ranges mean what the plugin guidelines say, whatever their order
        "{kind: load, load5: {warning: '~:4', critical: '@0:1'}}",
    ],
)
def test_limits_in_order_are_accepted(probe: str, registry: KindRegistry) -> None:
    parse_config(f"probes:\n  - {{name: p, {probe[1:]}\n", registry)


def test_an_environment_mapping_that_is_not_json(
    registry: KindRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_STATUS_SITE", "{name: shop}")  # found by tests/core/test_config_fuzz
    [error] = errors_of("site: {name: x}\n", registry)
    assert error.startswith("site: not valid JSON (from environment SITE_STATUS_SITE)")
