from __future__ import annotations

import logging

import pytest

from exporter.redact import (
    RedactingFilter,
    redact,
    redact_secret_assignments,
    redact_url,
    redact_urls_in,
    url_secrets,
)


def test_redact_url() -> None:
    url = "https://bob:s3cret-pw@shop.example:8443/healthz?token=abc123&page=2"
    assert redact_url(url) == "https://bob:***@shop.example:8443/healthz?token=***&page=2"
    assert url_secrets(url) == ["s3cret-pw", "s3cret-pw", "abc123"]
    encoded = "https://bob:p%40ss%3Aw0rd@shop.example/"
    assert url_secrets(encoded) == ["p%40ss%3Aw0rd", "p@ss:w0rd"]
    assert redact_url("http://shop.example/") == "http://shop.example/"


def test_redact_free_text() -> None:
    assert redact("token tok-1234 and tok-1234 again", ["tok-1234"]) == "token *** and *** again"
    assert redact("a short one: ab", ["ab"]) == "a short one: ab"  # too short to mask safely
    line = 'GET http://admin:pw-9@h:1/x?api_key=K1&n=1 "HTTP/1.1 200"'
    assert redact_urls_in(line) == 'GET http://admin:***@h:1/x?api_key=***&n=1 "HTTP/1.1 200"'


def test_log_filter_masks_urls(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("HTTP Request: %s %s", "GET", "http://u:topsecret@h/?password=p4ss")
    assert "topsecret" not in caplog.text
    assert "p4ss" not in caplog.text
    assert "http://u:***@h/?password=***" in caplog.text


def test_secret_assignments_in_free_text_are_masked() -> None:
    cases = {
        "settings: 'password' => 'hunter22', 'host' => 'db'": (
            "settings: 'password' => '***', 'host' => 'db'"
        ),
        "DB_PASSWORD=hunter22 next": "DB_PASSWORD=*** next",
        'db-password: "two words"': 'db-password: "***"',
        "api_key=abc123&page=2": "api_key=***&page=2",
        "(using password: YES)": "(using password: YES)",
        "a passage: of text": "a passage: of text",
    }
    for text, expected in cases.items():
        assert redact_secret_assignments(text) == expected
