"""ARM resource ids: parsed once, compared case-insensitively, as ARM does."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidResourceId(ValueError):
    """The text is not an ARM resource id."""


@dataclass(frozen=True)
class ResourceId:
    """A parsed ARM id such as ``/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}``.

    Subscription ids are not checked to be GUIDs: Microsoft's own examples use ``subid`` and
    ``{subscription-id}``, and the product must cope with them.
    """

    text: str
    subscription: str
    resource_group: str | None
    resource_type: str | None  # "Microsoft.DocumentDB/databaseAccounts", child types appended
    name: str | None

    @property
    def segments(self) -> list[str]:
        return self.text.strip("/").split("/")

    def is_type(self, resource_type: str) -> bool:
        return self.resource_type is not None and self.resource_type.casefold() == resource_type.casefold()

    @property
    def top_level(self) -> ResourceId:
        """The top-level resource this id names or sits under: a storage account for its
        ``blobServices/default``, whose diagnostic logs carry the child's id."""
        if self.resource_type is None or self.resource_type.count("/") == 1:
            return self
        segments = self.segments
        at = next(i for i, s in enumerate(segments) if s.casefold() == "providers")
        top = segments[: at + 4]  # providers/{namespace}/{type}/{name}
        return ResourceId("/" + "/".join(top), self.subscription, self.resource_group, "/".join(top[-3:-1]), top[-1])

    def __str__(self) -> str:
        return self.text


def parse_resource_id(text: object) -> ResourceId:
    """Parse ``text`` or raise :class:`InvalidResourceId` saying what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidResourceId(f"a resource id must be a string, not {type(text).__name__}")
    if not text.startswith("/"):
        raise InvalidResourceId(f"{_shorten(text)!r} is not an ARM resource id: it must start with /subscriptions/")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise InvalidResourceId(
            f"{_shorten(text)!r} is not an ARM resource id: it contains white space or control characters"
        )
    segments = text.rstrip("/").split("/")[1:]
    if any(segment == "" for segment in segments):
        raise InvalidResourceId(f"{_shorten(text)!r} is not an ARM resource id: it has an empty segment")
    if len(segments) < 2 or segments[0].casefold() != "subscriptions":
        raise InvalidResourceId(
            f"{_shorten(text)!r} is not an ARM resource id: it must start with /subscriptions/{{id}}"
        )
    subscription = segments[1]
    rest = segments[2:]
    resource_group = None
    if rest and rest[0].casefold() == "resourcegroups":
        if len(rest) < 2:
            raise InvalidResourceId(f"{_shorten(text)!r} is not an ARM resource id: resourceGroups has no name")
        resource_group = rest[1]
        rest = rest[2:]
    resource_type = name = None
    if rest:
        if rest[0].casefold() != "providers" or len(rest) < 4 or (len(rest) - 2) % 2:
            raise InvalidResourceId(
                f"{_shorten(text)!r} is not an ARM resource id: expected providers/{{namespace}}/{{type}}/{{name}}"
            )
        namespace, pairs = rest[1], rest[2:]
        resource_type = "/".join([namespace, *pairs[0::2]])
        name = pairs[-1]
    return ResourceId(text.rstrip("/"), subscription, resource_group, resource_type, name)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
