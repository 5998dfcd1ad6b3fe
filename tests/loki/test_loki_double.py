"""The protocol double rejects what Loki rejects, with Loki's status and message."""

from __future__ import annotations

import gzip
import http.client
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.loki_double import (
    INGESTION_BURST_BYTES,
    INGESTION_RATE_BYTES,
    LokiDouble,
    TokenBucket,
    loki_double,
)

NOW = time.time_ns()
LABELS = {"job": "site-status", "site": "shop"}


@pytest.fixture
def double() -> Iterator[LokiDouble]:
    with loki_double() as running:
        yield running


def post(
    double: LokiDouble,
    body: Any,
    *,
    content_type: str | None = "application/json",
    encoding: str | None = "gzip",
    raw: bytes | None = None,
) -> tuple[int, str, dict[str, str]]:
    data = raw if raw is not None else json.dumps(body).encode()
    if raw is None and encoding == "gzip":
        data = gzip.compress(data)
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if encoding:
        headers["Content-Encoding"] = encoding
    connection = http.client.HTTPConnection("127.0.0.1", double.port, timeout=5)
    try:
        connection.request("POST", "/loki/api/v1/push", body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        connection.close()


def push(labels: dict[str, str], *values: list[Any]) -> dict[str, Any]:
    return {"streams": [{"stream": labels, "values": list(values)}]}


def test_a_valid_push_is_stored_and_an_exact_duplicate_ignored(double: LokiDouble) -> None:
    body = push(LABELS, [str(NOW), "one"], [str(NOW + 1), "two", {"probe": "x"}])
    assert post(double, body)[0] == 204
    assert post(double, body)[0] == 204
    assert [e.line for e in double.stored()] == ["one", "two"]
    assert len(double.duplicates) == 2
    # Same timestamp, other line: a different entry.
    assert post(double, push(LABELS, [str(NOW), "one, again"]))[0] == 204
    assert len(double.stored()) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (push(LABELS, [NOW, "number"]), "must be a string"),
        (push(LABELS, ["12abc", "letters"]), "invalid syntax"),
        (push(LABELS, [str(NOW), 42]), "the line must be a string"),
        (push(LABELS, [str(NOW), "x", {"k": 1}]), "structured metadata must map strings"),
        ({"streams": {"not": "a list"}}, '"streams" must be a list'),
    ],
)
def test_malformed_requests_are_400_and_store_nothing(
    double: LokiDouble, body: dict[str, Any], message: str
) -> None:
    status, answer, _ = post(double, body)
    assert status == 400
    assert message in answer
    assert not double.stored()


@pytest.mark.parametrize(
    ("labels", "value", "message"),
    [
        (LABELS, ["-5", "negative"], "has timestamp too old"),
        (LABELS, [str(NOW - 8 * 86400 * 10**9), "last week"], "has timestamp too old"),
        (LABELS, [str(NOW + 3600 * 10**9), "next hour"], "has timestamp too new"),
        ({f"l{i}": "v" for i in range(16)}, [str(NOW), "x"], "has 16 label names; limit 15"),
        ({"bad-name": "v"}, [str(NOW), "x"], "Error parsing labels"),
        ({"1st": "v"}, [str(NOW), "x"], "Error parsing labels"),
        ({}, [str(NOW), "x"], "at least one label pair is required per stream"),
        ({"job": "v" * 2049}, [str(NOW), "x"], "label value too long"),
        (LABELS, [str(NOW), "x" * (256 * 1024 + 1)], "Max entry size '262144' bytes exceeded"),
    ],
)
def test_invalid_entries_are_rejected_with_lokis_message(
    double: LokiDouble, labels: dict[str, str], value: list[Any], message: str
) -> None:
    status, answer, _ = post(double, push(labels, value))
    assert (status, message in answer) == (400, True), answer[:300]
    assert not double.stored()


def test_a_line_of_exactly_256_kib_is_accepted(double: LokiDouble) -> None:
    assert post(double, push(LABELS, [str(NOW), "x" * 256 * 1024]))[0] == 204


def test_valid_entries_of_a_partly_invalid_request_are_kept(double: LokiDouble) -> None:
    body = {
        "streams": [
            {"stream": LABELS, "values": [[str(NOW), "good"], ["-1", "bad"]]},
            {"stream": {"bad-name": "x"}, "values": [[str(NOW), "bad stream"]]},
        ]
    }
    status, answer, _ = post(double, body)
    assert status == 400
    assert "too old" in answer and "Error parsing labels" in answer
    assert [e.line for e in double.stored()] == ["good"]


def test_duplicate_label_names_are_taken_once_the_last_winning(double: LokiDouble) -> None:
    """Loki decodes the stream object into a map: no error, the last value wins."""
    raw = gzip.compress(
        b'{"streams":[{"stream":{"job":"a","job":"b"},"values":[["%d","x"]]}]}' % NOW
    )
    status, answer, _ = post(double, None, raw=raw)
    assert (status, answer) == (204, "")
    assert double.stored()[0].stream == {"job": "b"}


def test_label_values_are_limited_in_bytes_not_characters(double: LokiDouble) -> None:
    danish = "æ" * 1024  # 1024 characters, 2048 bytes: at the limit
    assert post(double, push({"site": danish}, [str(NOW), "x"]))[0] == 204
    status, answer, _ = post(double, push({"site": danish + "ø"}, [str(NOW), "x"]))
    assert status == 400 and "label value too long" in answer


def test_partly_invalid_push_stores_the_valid_and_groups_the_errors_as_loki(
    double: LokiDouble,
) -> None:
    old = [[str(NOW - 8 * 86400 * 10**9 + i * 10**9), f"old {i}"] for i in range(3)]
    status, answer, _ = post(double, push(LABELS, [str(NOW), "good"], *old))
    assert status == 400
    assert answer.count("1 errors like: entry for stream") == 3, answer
    assert [e.line for e in double.stored()] == ["good"]
    # Identical messages are one group with their count; one error alone is the bare message.
    twice = [[str(NOW + 3600 * 10**9), "future"]] * 2
    assert post(double, push(LABELS, *twice))[1].startswith("2 errors like: entry for stream")
    alone = post(double, push(LABELS, [str(NOW + 3600 * 10**9), "future"]))[1]
    assert alone.startswith("entry for stream") and "errors like" not in alone


def test_out_of_order_within_the_hour_is_accepted_beyond_it_rejected(double: LokiDouble) -> None:
    assert post(double, push(LABELS, [str(NOW), "newest"]))[0] == 204
    assert post(double, push(LABELS, [str(NOW - 30 * 60 * 10**9), "half an hour back"]))[0] == 204
    status, answer, _ = post(double, push(LABELS, [str(NOW - 2 * 3600 * 10**9), "two hours back"]))
    assert status == 400 and "entry too far behind" in answer
    # Another stream has its own newest entry.
    other = {"job": "site-status", "site": "other"}
    assert post(double, push(other, [str(NOW - 2 * 3600 * 10**9), "fine here"]))[0] == 204


def test_content_encoding_as_loki_decodes_it(double: LokiDouble) -> None:
    plain = json.dumps(push(LABELS, [str(NOW), "x"])).encode()
    status, answer, _ = post(double, None, raw=plain, encoding="gzip")
    assert status == 400 and "gzip" in answer
    assert post(double, None, raw=plain, encoding=None)[0] == 204
    deflated = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = deflated.compress(json.dumps(push(LABELS, [str(NOW), "y"])).encode()) + deflated.flush()
    assert post(double, None, raw=raw, encoding="deflate")[0] == 204
    # pkg/loghttp/push/push.go: anything else is an error, answered 400 (not 415).
    for encoding in ("br", "identity", "GZIP"):
        status, answer, _ = post(double, None, raw=plain, encoding=encoding)
        assert (status, answer) == (400, f'Content-Encoding "{encoding}" not supported\n')


def test_content_type_json_or_400(double: LokiDouble) -> None:
    """No Content-Type fails mime.ParseMediaType; any other type is read as snappy protobuf,
    which a JSON body is not: both 400, as Loki answers."""
    body = push(LABELS, [str(NOW), "x"])
    assert post(double, body, content_type=None)[:2] == (400, "mime: no media type\n")
    for media in ("application/x-protobuf", "text/plain"):
        assert post(double, body, content_type=media)[:2] == (400, "snappy: corrupt input\n")
    assert post(double, body, content_type="application/json; charset=utf-8")[0] == 204


@pytest.mark.parametrize(("version", "status"), [((2, 9), 204), ((3, 3), 204), ((3, 4), 422)])
def test_no_streams_by_version(version: tuple[int, int], status: int) -> None:
    """Loki returns early on an empty push: nil (204) up to 3.3, 422 from 3.4."""
    with loki_double(loki_version=version) as double:
        answered, answer, _ = post(double, {"streams": []})
        assert answered == status
        if status == 422:
            assert "at least one valid stream is required" in answer


def test_the_rate_limit_is_a_token_bucket_of_4_mb_a_second_and_a_6_mb_burst() -> None:
    """Loki's defaults (limits.go: ingestion_rate_mb 4, ingestion_burst_size_mb 6, MB = 2^20
    bytes), as golang.org/x/time/rate's AllowN counts them."""
    mib = 2**20
    bucket = TokenBucket(INGESTION_RATE_BYTES, INGESTION_BURST_BYTES)
    assert (4 * mib, 6 * mib) == (INGESTION_RATE_BYTES, INGESTION_BURST_BYTES)
    start = bucket.at
    assert bucket.allow(6 * mib, now=start), "the burst"
    assert not bucket.allow(1, now=start)
    assert not bucket.allow(4 * mib + 1, now=start + 1.0)
    assert bucket.allow(4 * mib, now=start + 1.0), "4 MiB a second"
    assert not TokenBucket(4 * mib, 6 * mib).allow(6 * mib + 1), "over the burst: never"


def test_a_push_over_the_rate_limit_is_429_and_stores_nothing() -> None:
    # A slow bucket (100 B/s, burst 3000 B) so that the test does not race the refill.
    with loki_double(ingestion_rate_bytes=100, ingestion_burst_bytes=3000) as double:
        line = "x" * 1000
        answers = [post(double, push(LABELS, [str(NOW + i), line]))[:2] for i in range(4)]
        assert [status for status, _ in answers] == [204, 204, 204, 429]
        assert answers[3][1] == (
            "Ingestion rate limit exceeded for user fake (limit: 100 bytes/sec) while "
            "attempting to ingest '1' lines totaling '1000' bytes, reduce log volume or contact "
            "your Loki administrator to see if the limit can be increased\n"
        )
        assert len(double.stored()) == 3
        # Per tenant: another tenant has its own bucket.
        connection = http.client.HTTPConnection("127.0.0.1", double.port, timeout=5)
        body = json.dumps(push(LABELS, [str(NOW + 9), line])).encode()
        headers = {"Content-Type": "application/json", "X-Scope-OrgID": "other"}
        connection.request("POST", "/loki/api/v1/push", body=body, headers=headers)
        assert connection.getresponse().status == 204
        connection.close()


def test_active_streams_are_limited_per_tenant() -> None:
    with loki_double(max_active_streams=3) as double:
        body = {
            "streams": [
                {"stream": {"job": "j", "site": f"s{i}"}, "values": [[str(NOW), "x"]]}
                for i in range(5)
            ]
        }
        status, answer, _ = post(double, body)
        assert status == 429 and answer.startswith("Maximum active stream limit exceeded")
        assert "user: 'fake'" in answer
        assert sorted(e.stream["site"] for e in double.stored()) == ["s0", "s1", "s2"]
        assert double.active_streams() == 3
        # A known stream still takes entries.
        assert post(double, push({"job": "j", "site": "s0"}, [str(NOW + 1), "y"]))[0] == 204


def test_structured_metadata_can_be_disallowed() -> None:
    with loki_double(allow_structured_metadata=False) as double:
        status, answer, _ = post(double, push(LABELS, [str(NOW), "x", {"probe": "p"}]))
        assert status == 400 and "structured metadata, but this feature is disallowed" in answer
        assert post(double, push(LABELS, [str(NOW), "x"]))[0] == 204


def test_body_size_limit_is_413() -> None:
    with loki_double(max_body_bytes=100) as double:
        status, answer, _ = post(double, push(LABELS, [str(NOW), "x" * 200]))
        assert status == 413 and "request body too large" in answer


def test_tenant_and_authorization_can_be_required() -> None:
    with loki_double(require_tenant=True, expected_authorization="Bearer t") as double:
        assert post(double, push(LABELS, [str(NOW), "x"]))[0] == 401


@pytest.mark.parametrize("status", [204, 400, 429, 500])
def test_answers_on_demand(double: LokiDouble, status: int) -> None:
    double.respond_with(status, retry_after="7" if status == 429 else None, times=1)
    answered, _, headers = post(double, push(LABELS, [str(NOW), "x"]))
    assert answered == status
    if status == 429:
        assert headers["Retry-After"] == "7"
    assert not double.stored(), "a forced answer stores nothing"
    assert double.answered()[-1].entries[0].line == "x", "but records what was sent"
    assert post(double, push(LABELS, [str(NOW), "x"]))[0] == 204


def test_down_refuses_connections_and_up_serves_again(double: LokiDouble) -> None:
    double.down()
    with pytest.raises(ConnectionRefusedError):
        post(double, push(LABELS, [str(NOW), "x"]))
    double.up()
    assert post(double, push(LABELS, [str(NOW), "x"]))[0] == 204
