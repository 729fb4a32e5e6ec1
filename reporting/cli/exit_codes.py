"""The one place where CLI commands turn exceptions into exit codes and messages.

=====  ==========================================================
 0     success
 1     verification failed (the input is well-formed but false)
 2     bad input or usage (malformed file, bad flag, over a limit)
 3     environment (file system, database, network)
=====  ==========================================================

``--debug`` re-raises instead, so a developer gets the traceback.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

import audit_log
import disclosure
import inference
from inference import attestation, backends
from reporting.demo import DemoFailed


class ExitCode(enum.IntEnum):
    OK = 0
    VERIFICATION_FAILED = 1
    BAD_INPUT = 2
    ENVIRONMENT = 3


err_console = Console(stderr=True)

# Every error root the CLI knows, in one place. Ordered: the first matching class wins, so
# subclasses come before their roots.
_MAPPING: tuple[tuple[type[BaseException], ExitCode, str], ...] = (
    (DemoFailed, ExitCode.VERIFICATION_FAILED, "demo check failed"),
    (inference.ConfigError, ExitCode.BAD_INPUT, "configuration refused"),
    (backends.BackendConfigError, ExitCode.BAD_INPUT, "bad backend settings"),
    (backends.BackendError, ExitCode.ENVIRONMENT, "model backend error"),
    (attestation.AttestationVerificationError, ExitCode.VERIFICATION_FAILED, "attestation not verified"),
    (attestation.AttestationFormatError, ExitCode.BAD_INPUT, "bad input"),
    (attestation.QuoteProviderError, ExitCode.ENVIRONMENT, "quote provider error"),
    (disclosure.DisclosureVerificationError, ExitCode.VERIFICATION_FAILED, "disclosure not verified"),
    (disclosure.DisclosureFormatError, ExitCode.BAD_INPUT, "bad input"),
    (disclosure.DisclosureError, ExitCode.BAD_INPUT, "disclosure error"),
    (audit_log.VerificationError, ExitCode.VERIFICATION_FAILED, "verification failed"),
    (audit_log.FormatError, ExitCode.BAD_INPUT, "bad input"),
    (audit_log.KeyStoreError, ExitCode.ENVIRONMENT, "key store error"),
    (audit_log.StoreError, ExitCode.ENVIRONMENT, "storage error"),
    (OSError, ExitCode.ENVIRONMENT, "environment error"),
)


def classify(exc: BaseException) -> tuple[ExitCode, str]:
    for error, code, label in _MAPPING:
        if isinstance(exc, error):
            return code, label
    raise exc


@contextmanager
def handled(debug: bool = False) -> Iterator[None]:
    """Run a command body; map known errors to an exit code and a one-line message."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        if debug:
            raise
        code, label = classify(exc)
        err_console.print(f"[bold red]{label}:[/] {escape(str(exc))}", highlight=False, markup=True)
        raise typer.Exit(int(code)) from None
