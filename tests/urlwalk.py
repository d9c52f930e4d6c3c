"""Enumerate every URL pattern of the portal with sample arguments.

Used by the authorization tests: a URL added anywhere shows up here without
anyone remembering to list it.
"""

import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "accounts:profile"
    kwargs_names: tuple[str, ...]


def _walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            yield from _walk(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            pattern = entry.pattern
            names = tuple(getattr(pattern, "converters", {}).keys()) or tuple(
                pattern.regex.groupindex.keys()
            )
            yield Route(f"{namespace}{entry.name}", names)


def all_routes() -> list[Route]:
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        seen.setdefault(route.name, route)
    return sorted(seen.values(), key=lambda r: r.name)


SAMPLES = ["1", "x", "abc", str(uuid.uuid4()), "1-x"]


def sample_url(route: Route, overrides: dict | None = None) -> str | None:
    """A URL for the route with placeholder (or given) arguments; None if none fits."""
    overrides = overrides or {}
    for sample in SAMPLES:
        kwargs = {name: overrides.get(name, sample) for name in route.kwargs_names}
        try:
            return reverse(route.name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    # Routes with required (?P<x>..) of a special shape, e.g. admin app_label choices.
    try:
        return reverse(route.name, kwargs=dict.fromkeys(route.kwargs_names, "accounts"))
    except NoReverseMatch:
        return None
