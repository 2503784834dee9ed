"""Azure Policy as data: which assignment would set or refuse a guarded property in a managed
resource group, whether an exemption or ``notScopes`` already stops it, and the exemption that would.

Pure: every function here reads documents already fetched (ARM GET bodies of policy assignments,
definitions, initiatives and exemptions) and calls nothing. ``documents`` parses the bodies,
``rules`` reads the policy rule language, ``guarded`` names the properties a policy can break,
``effects`` reads what an effect does to them, and ``conflicts`` puts these together per
assignment and managed group.
"""

from .conflicts import Conflict, ExemptionProposal, Report, find_conflicts
from .documents import (
    Assignment,
    Definition,
    Exemption,
    InvalidCheckInput,
    InvalidPolicyDocument,
    PolicyDocuments,
    SetDefinition,
    read_check_input,
)

__all__ = [
    "Assignment",
    "Conflict",
    "Definition",
    "Exemption",
    "ExemptionProposal",
    "InvalidCheckInput",
    "InvalidPolicyDocument",
    "PolicyDocuments",
    "Report",
    "SetDefinition",
    "find_conflicts",
    "read_check_input",
]
