"""The policy pack as its own process, driven over the Analyzer gRPC protocol as the engine drives it. The code lives
in ops/offline/ (analyzer.py, messages.py, policy_config.py); this module keeps the names tests import from it."""

from ops.offline import PACK_DIR
from ops.offline.analyzer import (
    CHANNEL_OPTIONS,
    ENGINE_ADDRESS,
    MAX_MESSAGE_BYTES,
    PolicyPack,
    Report,
    analyze_resources,
    pack_python,
)
from ops.offline.messages import Analysis, Diagnostic, Providers, analyze_request, stack_resource, to_struct
from ops.offline.policy_config import LEVELS, PolicyInfo, load_policy_config, reconcile_config

_Providers = Providers  # the names these had before they moved
_struct = to_struct

__all__ = ["CHANNEL_OPTIONS", "ENGINE_ADDRESS", "LEVELS", "MAX_MESSAGE_BYTES", "PACK_DIR", "Analysis", "Diagnostic",
           "PolicyInfo", "PolicyPack", "Providers", "Report", "_Providers", "_struct", "analyze_request",
           "analyze_resources", "load_policy_config", "pack_python", "reconcile_config", "stack_resource",
           "to_struct"]
