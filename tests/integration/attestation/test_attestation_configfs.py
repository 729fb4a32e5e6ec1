"""The configfs-tsm TDX provider against a mimic of the kernel ABI on a real file system."""

from __future__ import annotations

import logging
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from configfs_mimic import MimicConfigfs

from audit_log import Mode
from inference.attestation import (
    AttestationFormatError,
    ConfigfsTsmProvider,
    Platform,
    ProviderUnavailable,
    QuoteGenerationFailed,
    RetryPolicy,
    SimulatedQuoteProvider,
    parse_tdx_quote,
    select_provider,
)


class Sleeps:
    """Records the backoff instead of waiting it out: time is a parameter of the provider."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def provider(mimic: MimicConfigfs, sleeps: Sleeps | None = None, attempts: int = 4) -> ConfigfsTsmProvider:
    return ConfigfsTsmProvider(
        root=mimic.root,
        items=mimic,
        retry=RetryPolicy(attempts=attempts, first_delay=0.1, max_delay=0.25),
        sleep=sleeps or Sleeps(),
    )


def test_quote_carries_exactly_our_report_data_and_leaves_no_entry(mimic: MimicConfigfs) -> None:
    report_data = secrets.token_bytes(64)
    quote = provider(mimic).quote(report_data)
    assert parse_tdx_quote(quote).report_data == report_data
    assert mimic.report_data_seen == [report_data]
    assert os.listdir(mimic.root) == []


def test_concurrent_requests_use_separate_entries(mimic: MimicConfigfs) -> None:
    tdx = provider(mimic)
    wanted = [secrets.token_bytes(64) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        quotes = list(pool.map(tdx.quote, wanted))
    assert [parse_tdx_quote(q).report_data for q in quotes] == wanted
    assert os.listdir(mimic.root) == []


def test_generation_race_discards_the_quote(mimic: MimicConfigfs) -> None:
    mimic.script.append("race")
    with pytest.raises(QuoteGenerationFailed, match="another writer raced"):
        provider(mimic).quote(bytes(64))
    assert os.listdir(mimic.root) == []


def test_a_provider_other_than_tdx_guest_gets_no_report_data(mimic: MimicConfigfs) -> None:
    mimic.script.append("sev")
    with pytest.raises(QuoteGenerationFailed, match="'sev_guest', expected 'tdx_guest'"):
        provider(mimic).quote(b"\x42" * 64)
    assert mimic.report_data_seen == []
    assert os.listdir(mimic.root) == []


def test_eio_is_retried_with_backoff_on_a_fresh_entry(
    mimic: MimicConfigfs, caplog: pytest.LogCaptureFixture
) -> None:
    mimic.script.extend(["eio", "eio"])
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING):
        quote = provider(mimic, sleeps).quote(b"\x01" * 64)
    assert parse_tdx_quote(quote).report_data == b"\x01" * 64
    assert mimic.created == ["eio", "eio", "tdx"]
    assert sleeps.delays == [0.1, 0.2]
    assert sum("EIO" in r.getMessage() for r in caplog.records) == 2
    assert os.listdir(mimic.root) == []


def test_persistent_eio_becomes_a_typed_error(mimic: MimicConfigfs) -> None:
    mimic.script.extend(["eio"] * 4)
    sleeps = Sleeps()
    with pytest.raises(QuoteGenerationFailed, match="still failing with EIO after 4 attempts"):
        provider(mimic, sleeps).quote(bytes(64))
    assert sleeps.delays == [0.1, 0.2, 0.25]
    assert os.listdir(mimic.root) == []


def test_report_data_must_be_exactly_64_bytes(mimic: MimicConfigfs) -> None:
    with pytest.raises(AttestationFormatError, match="64 bytes"):
        provider(mimic).quote(bytes(63))
    assert mimic.created == []


def test_production_starts_with_a_working_tdx_provider(mimic: MimicConfigfs) -> None:
    selected = select_provider(Mode.PRODUCTION, configfs_root=mimic.root, configfs_items=mimic)
    assert isinstance(selected, ConfigfsTsmProvider)
    assert selected.mode is Mode.PRODUCTION
    assert selected.platform is Platform.INTEL_TDX


def test_production_refuses_to_start_without_configfs_tsm(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailable, match="configfs-tsm not found"):
        select_provider(Mode.PRODUCTION, configfs_root=tmp_path / "absent")


def test_production_refuses_to_start_on_a_non_tdx_provider(mimic: MimicConfigfs) -> None:
    mimic.script.append("sev")
    with pytest.raises(ProviderUnavailable, match="self-test failed"):
        select_provider(Mode.PRODUCTION, configfs_root=mimic.root, configfs_items=mimic)


def test_simulated_mode_is_announced_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        selected = select_provider(Mode.SIMULATED)
    assert isinstance(selected, SimulatedQuoteProvider)
    assert any("SIMULATED MODE: NOT RUNNING IN A TEE" in r.getMessage() for r in caplog.records)
