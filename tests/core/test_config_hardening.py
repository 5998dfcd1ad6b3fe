"""A config can be wrong, never fatal: what the config path points at and what the YAML holds
end in one clear error, quickly, with little memory, and without echoing the file."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from exporter.config import ConfigInvalid, load_config, parse_config
from exporter.config_source import MAX_CONFIG_BYTES
from exporter.registry import KindRegistry, default_registry

#: The classic "billion laughs" in YAML: 9 levels of 9 aliases, 9**9 = 387 million strings
#: once expanded (https://en.wikipedia.org/wiki/Billion_laughs_attack, YAML variant).
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{this}: &{this} [{','.join(['*' + previous] * 9)}]"
            for previous, this in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)
#: Lines as /etc/shadow holds them (shadow(5)): "name:hash:lastchange:min:max:warn:::".
SHADOW = (
    "root:$6$Zy0pLp6dWmQ2s1uB$1bDk0eFz7Rx7Q3tI0v1Xc0u7r5p3X8yLrR5fS9lDqZbqW9YtXh2nE2k4Yg3Zl6O1s"
    "W7uV8xA9bC0dE1fG2hH3.:19700:0:99999:7:::\n"
    "daemon:*:19700:0:99999:7:::\n"
    "operator:$y$j9T$Fq0aB1cD2eF3gH4iJ5kL6.$Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5Ef6Gh7Ij8Kl9Mn0:19700:0:99999:7:::\n"
)
SECRETS_IN_SHADOW = ("Zy0pLp6dWmQ2s1uB", "Fq0aB1cD2eF3gH4iJ5kL6", "19700:0:99999")


@pytest.fixture(scope="module")
def registry() -> KindRegistry:
    return default_registry()


def load_error(path: str | Path, registry: KindRegistry) -> ConfigInvalid:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(path, registry)
    return caught.value


def test_fifo_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, registry: KindRegistry
) -> None:
    fifo = tmp_path / "site.yaml"
    os.mkfifo(fifo)
    errors: list[ConfigInvalid] = []

    def load() -> None:
        try:
            load_config(fifo, registry)
        except ConfigInvalid as error:
            errors.append(error)

    reader = threading.Thread(target=load, daemon=True)  # before the fix: blocked for ever
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert str(errors[0]) == f"{fifo}: <config>: not a regular file (a FIFO)"


@pytest.mark.parametrize(
    ("path", "what"), [("/dev/zero", "a character device"), ("/tmp", "a directory")]
)
def test_only_regular_files_are_read(path: str, what: str, registry: KindRegistry) -> None:
    assert str(load_error(path, registry)) == f"{path}: <config>: not a regular file ({what})"


def test_a_file_larger_than_the_cap_is_refused(tmp_path: Path, registry: KindRegistry) -> None:
    big = tmp_path / "site.yaml"
    big.write_bytes(b"# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    assert "larger than 4 MiB" in str(load_error(big, registry))
    fits = tmp_path / "fits.yaml"
    fits.write_bytes(b"# padding\n" * (MAX_CONFIG_BYTES // 10 - 2) + b"site: {name: x}\n")
    assert load_config(fits, registry).site.name == "x"


def test_not_utf8_names_its_line(tmp_path: Path, registry: KindRegistry) -> None:
    latin1 = tmp_path / "site.yaml"
    latin1.write_bytes("site:\n  name: x\n  profile: Tromsø\n".encode("latin-1"))
    assert str(load_error(latin1, registry)) == (
        f"{latin1}: <config> (line 3): not UTF-8 text: invalid byte at column 17"
    )


def test_alias_bomb_fails_fast_with_little_memory(registry: KindRegistry) -> None:
    assert len(ALIAS_BOMB) < 1400
    tracemalloc.start()
    started = time.thread_time()  # CPU time: what a loaded machine does not lengthen
    try:
        with pytest.raises(ConfigInvalid) as caught:
            parse_config(ALIAS_BOMB, registry)
        elapsed = time.thread_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "aliases expand to more than 200000 values" in str(caught.value)
    assert elapsed < 1.0, elapsed
    assert peak < 20 * 1024 * 1024, peak


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: &a [*a]\n", "an alias refers to a value that contains it"),
        ("probes: " + "[" * 200 + "]" * 200 + "\n", "nested deeper than 50 levels"),
        (
            "a: &a [[[[[[[[[[1]]]]]]]]]]\n"
            + "".join(f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}]\n" for i in range(60)),
            "nested deeper than 50 levels",
        ),
        ("x: &x 1\na: [" + ",".join(["*x"] * 1001) + "]\n", "more than 1000 aliases"),
    ],
)
def test_yaml_limits(text: str, reason: str, registry: KindRegistry) -> None:
    started = time.thread_time()  # CPU time: what a loaded machine does not lengthen
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text, registry)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
    assert time.thread_time() - started < 1.0


def test_a_password_file_as_config_is_not_echoed(tmp_path: Path, registry: KindRegistry) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(SHADOW)
    error = load_error(shadow, registry)
    text = str(error)
    assert not any(secret in text for secret in SECRETS_IN_SHADOW), text
    keys = [line[:-1] for line in SHADOW.splitlines()]  # "name:...:7::" and a null value
    assert [str(e) for e in error.errors] == [
        f"<key of {len(key)} characters> (line {n}): unknown key" for n, key in enumerate(keys, 1)
    ]
    assert error.summary() == (
        f"3 error(s) in the config, the first at <key of {len(keys[0])} characters> (line 1)"
    )


def test_yaml_errors_do_not_echo_long_text(registry: KindRegistry) -> None:
    secret = "!s3cr3t-Zy0pLp6dWmQ2s1uB:" + "x" * 60
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(f"site: {{name: {secret} }}\nx: {secret}\n", registry)
    assert "Zy0pLp6dWmQ2s1uB" not in str(caught.value)
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(f"defaults: {{interval: 'Zy0pLp6dWmQ2s1uB{'y' * 70}'}}\n", registry)
    assert "Zy0pLp6dWmQ2s1uB" not in str(caught.value)
    assert "invalid duration <text of 86 characters>" in str(caught.value)


def test_short_values_are_still_quoted(registry: KindRegistry) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config("defaults: {interval: soon}\n", registry)
    assert "invalid duration 'soon'" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ["1: x\n", "? [a, b]\n: x\n", "null: x\n", "site: {name: x}\n2026-01-01: y\n"],
)
def test_keys_that_are_not_text(text: str, registry: KindRegistry) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text, registry)
    assert caught.value.errors


def test_thousands_of_errors_show_the_first_hundred(registry: KindRegistry) -> None:
    text = "probes:\n" + "".join(f"  - {{name: p{i}, kind: load, x: 1}}\n" for i in range(3000))
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text, registry)
    lines = str(caught.value).splitlines()
    assert lines[0] == "<config>: 3000 error(s)"
    assert len(lines) == 102 and lines[-1] == "  ... and 2900 more"
    assert (
        caught.value.summary() == "3000 error(s) in the config, the first at probes[0].x (line 2)"
    )
