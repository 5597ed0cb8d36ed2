"""Regenerate the extracts of Atlassian's Jira OpenAPI documents kept beside this script.

The Jira contract tests (tests/contract/test_jira_sandbox_openapi.py) hold the Jira sandbox to
Atlassian's own documents.  The full documents are large (2.4 MB and 1.3 MB) and not ours to
ship whole, so the repository keeps an extract of each: only the operations the sandbox serves
(every method and path of the documents that a route of the sandbox answers), and the
component schemas those operations reach through ``$ref``, with documentation prose
(``description``, ``summary``, examples) stripped.  Everything a validator reads (types,
required properties, formats, enums, responses) is kept as published.

Where the full documents come from (Atlassian's developer site publishes both):

- Jira Cloud platform REST API v3, OpenAPI 3.0.1:
  https://dac-static.atlassian.com/cloud/jira/platform/swagger-v3.v3.json
- Jira Software Data Center 10.3, OpenAPI 3.0.1:
  https://dac-static.atlassian.com/server/jira/platform/jira_software_dc_10003_swagger.v3.json

Run it after adding a route to the Jira sandbox (bridge/sandbox/jira/), with the two
downloaded documents::

    python tests/data/jira-openapi/extract.py CLOUD.json DC.json

It writes ``jira-cloud-platform-v3.openapi.json`` and ``jira-software-dc-10.3.openapi.json``
here (the names the tests load) and prints how many operations and schemas each keeps.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from starlette.routing import Match, Route

from bridge.sandbox.jira.app import create_jira_app

HERE = Path(__file__).resolve().parent
METHODS = ("get", "put", "post", "delete", "patch")
PROSE = {"description", "summary", "example", "examples", "externalDocs", "x-atlassian-connect-scope",
         "x-atlassian-oauth2-scopes", "x-atlassian-data-security-policy", "x-experimental", "x-changes"}
OUTPUTS = (
    ("cloud", "jira-cloud-platform-v3.openapi.json", ""),  # paths are /rest/api/3/...
    ("dc", "jira-software-dc-10.3.openapi.json", "/rest"),  # server URL http://{baseurl}/rest
)
KEEP_SCHEMAS = {"cloud": {"ErrorCollection"}}  # the error shape the tests validate every error against


def sandbox_routes() -> list[Route]:
    """Every REST route of the Jira sandbox (both flavours serve the same route table)."""
    app, _ = create_jira_app({"jira_mode": "cloud"})
    inner = app.app  # FaultMiddleware wraps the Starlette app
    return [r for r in inner.routes if isinstance(r, Route)]


def served(routes: list[Route], method: str, path: str) -> bool:
    sample = re.sub(r"\{[^}]+\}", "1", path)  # a concrete path for the template
    scope = {"type": "http", "path": sample, "method": method.upper(), "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


def strip_prose(node: Any, *, in_properties: bool = False) -> Any:
    """The node without documentation keys; a schema's ``properties`` keep every name."""
    if isinstance(node, dict):
        return {key: strip_prose(value, in_properties=(key == "properties" and not in_properties))
                for key, value in node.items() if in_properties or key not in PROSE}
    if isinstance(node, list):
        return [strip_prose(item) for item in node]
    return node


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(ref)
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= refs(item)
    return found


def extract(document: dict[str, Any], prefix: str, routes: list[Route], keep: set[str]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for template, item in document["paths"].items():
        operations = {m: op for m, op in item.items() if m in METHODS and served(routes, m, prefix + template)}
        if operations:
            shared = {k: v for k, v in item.items() if k == "parameters"}
            paths[template] = {**shared, **operations}
    components: dict[str, dict[str, Any]] = {}
    pending = refs(paths) | {f"#/components/schemas/{name}" for name in keep}
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, section, name = ref.split("/", 3)
        value = document["components"][section][name]
        components.setdefault(section, {})[name] = value
        pending |= refs(value)
    result = {key: document[key] for key in ("openapi", "info", "servers") if key in document}
    result["info"] = {k: v for k, v in result.get("info", {}).items() if k in ("title", "version")}
    result["paths"] = paths
    result["components"] = {section: dict(sorted(items.items())) for section, items in sorted(components.items())}
    return strip_prose(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cloud", type=Path, help="the full Jira Cloud platform v3 document")
    parser.add_argument("dc", type=Path, help="the full Jira Software Data Center 10.3 document")
    args = parser.parse_args()
    routes = sandbox_routes()
    for flavour, filename, prefix in OUTPUTS:
        document = json.loads(getattr(args, flavour).read_text())
        kept = extract(document, prefix, routes, KEEP_SCHEMAS.get(flavour, set()))
        (HERE / filename).write_text(json.dumps(kept, indent=1, sort_keys=False) + "\n")
        operations = sum(len([m for m in item if m in METHODS]) for item in kept["paths"].values())
        schemas = len(kept["components"].get("schemas", {}))
        print(f"{filename}: {operations} operations, {schemas} schemas")


if __name__ == "__main__":
    main()
