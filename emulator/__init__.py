"""Foundry Guard's local Azure twin: test equipment that behaves like Azure where the product depends on it.

See ``emulator/README.md``. Start one with ``python -m emulator serve --seed DIR`` or, in tests,
``with Twin.start(seed_dir=...) as twin:``.
"""

from .clock import TwinClock
from .events import arm_claims
from .tokens import make_token
from .twin import Twin

__all__ = ["Twin", "TwinClock", "arm_claims", "make_token"]
