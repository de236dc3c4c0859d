"""The worker's collector settings are applied while it runs and put back when it stops."""

from __future__ import annotations

import gc

import pytest

from streamz_kit.runtime.gc_tuning import THRESHOLDS, GcTuning


def test_apply_freezes_and_raises_thresholds_then_restore_puts_them_back() -> None:
    before = gc.get_threshold()
    tuning = GcTuning()
    tuning.apply()
    try:
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
        tuning.apply()  # a second apply must not save the tuned values as "previous"
    finally:
        tuning.restore()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_env_opt_out_leaves_the_collector_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMZ_KIT_GC", "default")
    before = gc.get_threshold()
    tuning = GcTuning()
    tuning.apply()
    assert gc.get_threshold() == before
    tuning.restore()
    assert gc.get_threshold() == before
