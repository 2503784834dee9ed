"""The policy rule language, read far enough to tell whether a rule can apply to a managed resource.

A rule's ``if`` is read against what is known of a managed resource without its body: its type,
the platform's values of the guarded properties (:mod:`.guarded`) and the assignment's parameters.
Anything else (its name, kind, location, tags, other aliases, most template functions) is
unknown, so a condition on it is *undecided*; conditions combine in three-valued logic
(``allOf``, ``anyOf``, ``not``), and an undecided rule is taken to apply: the check errs toward
"at risk" and says which conditions it could not decide.

The language: Microsoft's "Azure Policy definition structure" pages (policy rule, conditions,
``count``, parameters). Keys and operator names are read without regard to case, as Azure does
(built-ins spell ``notin``, ``anyof``); string comparisons ignore case too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..arm_json import MISSING, lookup


@dataclass(frozen=True)
class Unresolved:
    """A value that cannot be known without the resource or the request: why, in a few words."""

    why: str


_PARAMETER = re.compile(r"^\[\s*parameters\(\s*'([^']*)'\s*\)\s*\]$", re.IGNORECASE)
_FIELD = re.compile(r"^\[\s*field\(\s*'([^']*)'\s*\)\s*\]$", re.IGNORECASE)


def is_expression(value: Any) -> bool:
    # ARM template syntax: "[...]" is an expression, "[[..." a literal starting with "[".
    return isinstance(value, str) and value.startswith("[") and not value.startswith("[[") and value.endswith("]")


def resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    """``value`` with a ``[parameters('name')]`` expression replaced by the parameter's value;
    :class:`Unresolved` for any other expression, or for a parameter with no value."""
    if isinstance(value, str) and value.startswith("[["):
        return value[1:]
    if not is_expression(value):
        return value
    match = _PARAMETER.match(value)
    if match is None:
        return Unresolved(f"the expression {value}")
    found = lookup(parameters, match.group(1))
    return Unresolved(f"parameter {match.group(1)!r} has no value") if found is MISSING else found


def parameter_values(declared: Mapping[str, Any], supplied: Mapping[str, Any]) -> dict[str, Any]:
    """A definition's (or an initiative's) parameter values: each one ``supplied`` (by the assignment,
    or by the initiative to a member), else its ``defaultValue``, else :class:`Unresolved`."""
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        given = lookup(supplied, name)
        default = lookup(declaration, "defaultValue")
        if given is not MISSING:
            values[name] = given
        elif default is not MISSING:
            values[name] = default
        else:
            values[name] = Unresolved(f"parameter {name!r} has neither a value nor a default")
    return values


@dataclass(frozen=True)
class Facts:
    """What is known of a managed resource without its body."""

    resource_type: str
    properties: Mapping[str, Any]  # platform values by path below ``properties`` (guarded.platform_values)
    parameters: Mapping[str, Any]  # the definition's resolved parameter values

    def field(self, name: str) -> Any:
        """The value a ``field`` names: the type, a platform value, ``MISSING`` for an alias of another
        type (Azure reads it as absent), or :class:`Unresolved`."""
        if name.casefold() == "type":
            return self.resource_type
        if "/" not in name:  # name, kind, location, id, tags, identity.type...
            return Unresolved(f"the resource's {name}")
        prefix = self.resource_type.casefold() + "/"
        if not name.casefold().startswith(prefix):
            return MISSING
        path = name[len(prefix) :]
        if "/" in path:  # an alias of a child resource type
            return MISSING
        if "[*]" in path:  # a condition on every element of an array: not decided here
            return Unresolved(f"every element of {name}")
        known = next((v for k, v in self.properties.items() if k.casefold() == path.casefold()), MISSING)
        return known if known is not MISSING else Unresolved(f"{name} (not known without the resource)")

    def array(self, name: str) -> Any:
        """The elements a ``[*]`` alias counts: a known list, ``[]`` for another type's alias, or Unresolved."""
        if not name.endswith("[*]") or "[*]" in name[:-3]:
            return Unresolved(f"count of {name}")
        base = self.field(name[:-3])
        if base is MISSING:
            return []
        return base if isinstance(base, list) else Unresolved(f"the elements of {name}")


@dataclass(frozen=True)
class Decision:
    """Whether a condition holds: ``True``, ``False``, or ``None`` when it cannot be decided
    without the resource's body, with the conditions that could not be decided."""

    holds: bool | None
    undecided: tuple[str, ...] = ()

    @property
    def may_hold(self) -> bool:
        return self.holds is not False


TRUE = Decision(True)
FALSE = Decision(False)


def evaluate(condition: Any, facts: Facts) -> Decision:
    """Read a rule's ``if`` (or a part of it) against what is known of a managed resource."""
    if not isinstance(condition, Mapping):
        return _undecided(condition, "not a condition")
    keys = {key.casefold(): key for key in condition if isinstance(key, str)}
    if "allof" in keys:
        return _all([evaluate(c, facts) for c in _list(condition[keys["allof"]])])
    if "anyof" in keys:
        return _any([evaluate(c, facts) for c in _list(condition[keys["anyof"]])])
    if "not" in keys:
        inner = evaluate(condition[keys["not"]], facts)
        return inner if inner.holds is None else Decision(not inner.holds)
    operators = [key for folded, key in keys.items() if folded in _OPERATORS]
    if len(operators) != 1:
        return _undecided(condition, "no single operator")
    operator = operators[0]
    expected = resolve(condition[operator], facts.parameters)
    if "count" in keys:
        actual = _count(condition[keys["count"]], facts)
    elif "field" in keys:
        actual = facts.field(str(condition[keys["field"]]))
    elif "value" in keys:
        actual = _value(condition[keys["value"]], facts)
    else:
        return _undecided(condition, "no field, value or count")
    if isinstance(actual, Unresolved) or isinstance(expected, Unresolved):
        return _undecided(condition)
    holds = _OPERATORS[operator.casefold()](actual, expected)
    return _undecided(condition) if holds is None else Decision(holds)


def fields_supporting(condition: Any, facts: Facts, negated: bool = False) -> list[str]:
    """The aliases read by the conditions that make ``condition`` hold (or may) as the platform's
    values stand: what a Deny with this ``if`` refuses. A condition that does not hold (through its
    ``not``s) is not why the rule matches, so ``anyOf: [{public access open}, {any IP rule}]``
    refuses the open public access, not the empty IP rules."""
    if not isinstance(condition, Mapping):
        return []
    keys = {key.casefold(): key for key in condition if isinstance(key, str)}
    for combinator in ("allof", "anyof"):
        if combinator in keys:
            return [f for c in _list(condition[keys[combinator]]) for f in fields_supporting(c, facts, negated)]
    if "not" in keys:
        return fields_supporting(condition[keys["not"]], facts, not negated)
    holds = evaluate(condition, facts).holds
    return fields_named(condition) if holds is None or holds is not negated else []


def fields_named(condition: Any) -> list[str]:
    """Every alias a condition reads, in ``field`` and ``count`` and their ``where``, in order."""
    found: list[str] = []
    if isinstance(condition, Mapping):
        for key, value in condition.items():
            if isinstance(key, str) and key.casefold() == "field" and isinstance(value, str):
                found.append(value)
            else:
                found += fields_named(value)
    elif isinstance(condition, list):
        for item in condition:
            found += fields_named(item)
    return found


def _all(decisions: list[Decision]) -> Decision:
    if any(d.holds is False for d in decisions):
        return FALSE
    if all(d.holds for d in decisions):
        return TRUE
    return Decision(None, _reasons(decisions))


def _any(decisions: list[Decision]) -> Decision:
    if any(d.holds for d in decisions):
        return TRUE
    if all(d.holds is False for d in decisions):
        return FALSE
    return Decision(None, _reasons(decisions))


def _reasons(decisions: list[Decision]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reason for d in decisions for reason in d.undecided))


def _undecided(condition: Any, why: str | None = None) -> Decision:
    text = json.dumps(condition, separators=(",", ":"), default=str)
    return Decision(None, (f"{text} ({why})" if why else text,))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _value(value: Any, facts: Facts) -> Any:
    if is_expression(value):
        field = _FIELD.match(value)
        if field:
            found = facts.field(field.group(1))
            return None if found is MISSING else found
    return resolve(value, facts.parameters)


def _count(count: Any, facts: Facts) -> Any:
    """The number a ``count`` expression yields, when it can be known: every element of a known
    empty array satisfies nothing, so its count is 0 whatever the ``where``."""
    field = lookup(count, "field")
    if isinstance(field, str):
        elements = facts.array(field)
    else:
        elements = resolve(lookup(count, "value"), facts.parameters)
        if not isinstance(elements, list | Unresolved):
            return Unresolved("count of a value that is not an array")
    if isinstance(elements, Unresolved):
        return elements
    if elements and lookup(count, "where") is not MISSING:
        return Unresolved("count with a where over a non-empty array")
    return len(elements)


# Comparisons as Azure makes them: strings ignore case, booleans equal their "true"/"false",
# and an absent field equals nothing (so notEquals, notIn, notLike and notContains hold).


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equals(actual: Any, expected: Any) -> bool:
    if actual is MISSING:
        return False
    if _is_number(actual) and _is_number(expected):
        return bool(actual == expected)
    left, right = _text(actual), _text(expected)
    if left is not None and right is not None:
        return left == right
    return _canonical(actual) == _canonical(expected)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str).casefold()


def _in(actual: Any, expected: Any) -> bool | None:
    if not isinstance(expected, list):
        return None
    return actual is not MISSING and any(_equals(actual, item) for item in expected)


def _like(actual: Any, pattern: Any) -> bool | None:
    if not isinstance(pattern, str):
        return None
    if not isinstance(actual, str):
        return False
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, actual, re.IGNORECASE | re.DOTALL) is not None


def _contains(actual: Any, expected: Any) -> bool | None:
    if actual is MISSING or actual is None:
        return False
    if isinstance(actual, str):
        text = _text(expected)
        return None if text is None else text in actual.casefold()
    if isinstance(actual, list):
        return any(_equals(item, expected) for item in actual)
    return None


def _exists(actual: Any, expected: Any) -> bool | None:
    wanted = _text(expected)
    if wanted not in ("true", "false"):
        return None
    present = actual is not MISSING and actual is not None
    return present == (wanted == "true")


def _order(compare: Any) -> Any:
    def check(actual: Any, expected: Any) -> bool | None:
        return bool(compare(actual, expected)) if _is_number(actual) and _is_number(expected) else None

    return check


def _negate(check: Any) -> Any:
    def negated(actual: Any, expected: Any) -> bool | None:
        result = check(actual, expected)
        return None if result is None else not result

    return negated


_OPERATORS: dict[str, Any] = {
    "equals": _equals,
    "notequals": _negate(_equals),
    "in": _in,
    "notin": _negate(_in),
    "like": _like,
    "notlike": _negate(_like),
    "contains": _contains,
    "notcontains": _negate(_contains),
    "exists": _exists,
    "less": _order(lambda a, b: a < b),
    "lessorequals": _order(lambda a, b: a <= b),
    "greater": _order(lambda a, b: a > b),
    "greaterorequals": _order(lambda a, b: a >= b),
    # Read but never decided here: the pattern and key operators.
    "match": lambda a, b: None,
    "notmatch": lambda a, b: None,
    "matchinsensitively": lambda a, b: None,
    "notmatchinsensitively": lambda a, b: None,
    "containskey": lambda a, b: None,
    "notcontainskey": lambda a, b: None,
}
