"""AppConfig: one frozen, validated configuration; unknown settings are named, not passed on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.cli import run as run_command
from streamz_kit.config import AppConfig, runtime_knobs


def _topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON).to("out")
    return builder.build()


def test_a_misspelt_setting_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    with pytest.raises(sk.ConfigError, match="did you mean 'commit_interval_ms'"):
        sk.App(_topology(), application_id="a", state_dir=tmp_path, comit_interval_ms=5)
    with pytest.raises(sk.ConfigError, match="did you mean 'max_poll_records'"):
        sk.App(_topology(), application_id="a", state_dir=tmp_path, max_pol_records=5)
    with pytest.raises(sk.ConfigError, match=r"Unknown setting 'zzz'.*client_config"):
        sk.App(_topology(), application_id="a", state_dir=tmp_path, zzz=1)


def test_every_runtime_knob_is_settable_from_the_app(tmp_path: Path) -> None:
    knobs = {name: 7 for name, _ in runtime_knobs()}
    app = sk.App(_topology(), application_id="a", state_dir=tmp_path, **knobs)
    assert {name: getattr(app.config, name) for name in knobs} == knobs
    assert {"poll_timeout_ms", "max_poll_records", "commit_max_records"} <= set(knobs)


def test_every_runtime_knob_is_a_run_option() -> None:
    options = {p.name for p in run_command.params}
    assert {name for name, _ in runtime_knobs()} <= options


def test_client_settings_go_to_client_config(tmp_path: Path) -> None:
    app = sk.App(
        _topology(),
        application_id="a",
        state_dir=tmp_path,
        security_protocol="SASL_PLAINTEXT",
        client_config={"request_timeout_ms": 9},
    )
    assert dict(app.config.client_config) == {
        "security_protocol": "SASL_PLAINTEXT",
        "request_timeout_ms": 9,
    }


def test_the_config_is_frozen_and_validated(tmp_path: Path) -> None:
    config = AppConfig.from_settings(application_id="a", state_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.poll_timeout_ms = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.client_config["x"] = 1  # type: ignore[index]
    with pytest.raises(sk.ConfigError, match="max_poll_records must be at least 1"):
        AppConfig.from_settings(application_id="a", max_poll_records=0)
    with pytest.raises(sk.ConfigError, match="poll_timeout_ms must be a whole number"):
        AppConfig.from_settings(application_id="a", poll_timeout_ms="50")


def test_defaults_are_derived_until_given(tmp_path: Path) -> None:
    app = sk.App(_topology(), application_id="a", broker=f"embedded://{tmp_path}/one")
    assert app.config.state_dir == (tmp_path / "one" / "state").resolve()
    assert app.config.commit_interval_ms == 30_000
    app.configure(broker=f"embedded://{tmp_path}/two", processing_guarantee="exactly_once")
    assert app.config.state_dir == (tmp_path / "two" / "state").resolve()
    assert app.config.commit_interval_ms == 100  # exactly_once's default
    app.configure(commit_interval_ms=250, max_poll_records=10)
    assert (app.config.commit_interval_ms, app.config.max_poll_records) == (250, 10)
    assert app.config.processing_guarantee == "exactly_once"  # kept
