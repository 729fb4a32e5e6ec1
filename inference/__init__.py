"""The in-TEE gateway: OpenAI-compatible API, fail-closed safety pipeline, audit and disclosures.

Importing this package starts nothing: :func:`serve_gateway` runs a :class:`Gateway` under uvicorn,
:func:`create_app` builds the HTTP application for a started one.
"""

from inference.attestation import SIMULATED_BANNER
from inference.config import BackendKind, Settings, default_data_dir, parse_engine_option
from inference.demo_authorities import demo_key_path
from inference.errors import ConfigError, GatewayError
from inference.http.app import create_app
from inference.policy import Policy, pin_installed_manifest
from inference.server import BackgroundGateway, Listening
from inference.server import serve as serve_gateway
from inference.service import Gateway
from inference.verdicts import VERDICT_PAYLOAD_TYPE, ExternalVerdict

__all__ = [
    "SIMULATED_BANNER",
    "VERDICT_PAYLOAD_TYPE",
    "BackendKind",
    "BackgroundGateway",
    "ConfigError",
    "ExternalVerdict",
    "Gateway",
    "GatewayError",
    "Listening",
    "Policy",
    "Settings",
    "create_app",
    "default_data_dir",
    "demo_key_path",
    "parse_engine_option",
    "pin_installed_manifest",
    "serve_gateway",
]
