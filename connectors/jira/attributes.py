"""What kind of ticket it is, in Jira: casavi ``type``, ``typeGroup`` and ``customFields``
written to the fields ``[jira.field_map]`` names (:class:`.config.FieldMap`).

Attributes are named as the neutral model names them (:attr:`bridge.model.SourceItem.attributes`):
``type``, ``typeGroup`` and ``customFields.<key>``.  They flow casavi → Jira only: casavi's
ticket update takes no ``typeGroup`` and no ``customFields`` (manager API v1, "Update an existing
ticket"), and several casavi types may share one Jira issue type, so nothing could be written
back unambiguously.  A Jira edit of such a field stays until the casavi value changes.

- On create, the values the create screen takes (``createmeta`` of the issue type) go into the
  creating request, so automation and required fields see them at once; a value the screen
  does not offer or cannot take is left out, and so is a field Jira refuses (the request is
  sent again without it).  :meth:`AttributeWriter.for_create` says which attributes were set.
- On a change (or when the create left one out), :meth:`AttributeWriter.write` reads the issue
  with its ``editmeta`` and edits the attribute's fields; a value Jira cannot take raises
  :class:`~bridge.errors.RefusedError` naming the configuration key, so that one write waits in
  the quarantine while the ticket's other changes go on.

Pure mapping here; the few reads go through the ``get`` callable the connector passes in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from bridge.errors import RefusedError
from bridge.model import content_hash

from .config import AttributeField, JiraSettings
from .field_values import FieldMeta, ValueRefused, field_value, screen_fields, text_of, translated
from .mapping import labels_for

TYPE, TYPE_GROUP, CUSTOM = "type", "typeGroup", "customFields."
META_TTL_SECONDS = 600  # how long a create screen read is used (an administrator may change it)

Get = Callable[..., Any]
FindUser = Callable[[str], "Mapping[str, Any] | None"]


def attribute_paths(settings: JiraSettings) -> dict[str, tuple[str, AttributeField]]:
    """Attribute name → (its configuration key path, its field) for typeGroup and custom fields."""
    fm = settings.field_map
    found: dict[str, tuple[str, AttributeField]] = {}
    if fm.type_group is not None:
        found[TYPE_GROUP] = ("[jira.field_map] type_group", fm.type_group)
    for key, target in fm.custom_fields.items():
        found[CUSTOM + key] = (f'[jira.field_map.custom_fields] "{key}"', target)
    return found


def attribute_names(settings: JiraSettings) -> dict[str, str]:
    """The attributes the configuration follows, each with a digest of its mapping (a changed
    mapping is a new write: the planner writes it again, and a waiting refusal is tried at once)."""
    fm = settings.field_map
    names: dict[str, str] = {}
    if fm.type.used:
        names[TYPE] = content_hash([fm.type.model_dump(), settings.issue_type, fm.label_prefix])
    for name, (_, target) in attribute_paths(settings).items():
        names[name] = content_hash(target.model_dump())
    return names


@dataclass
class CreatePlan:
    """What the attributes add to a creating request."""

    issue_type: str
    fields: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)  # added to the issue's labels
    sources: dict[str, str] = field(default_factory=dict)  # field id → attribute that filled it
    stored: set[str] = field(default_factory=set)  # attributes fully in the request

    def drop(self, field_id: str, default_issue_type: str) -> bool:
        """Leave out what Jira refused of field ``field_id``; False when it is not ours."""
        owner = self.sources.pop(field_id, None)
        if owner is None:
            return False
        self.stored.discard(owner)
        if field_id == "issuetype":
            self.issue_type = default_issue_type
        elif field_id == "labels":
            self.labels = []
        else:
            self.fields.pop(field_id, None)
        return True


class AttributeWriter:
    """Jira's side of the attributes for one connector (settings, a ``get`` for reads)."""

    def __init__(self, settings: JiraSettings, get: Get, find_user: FindUser):
        self.settings = settings
        self.get = get
        self.find_user = find_user
        self.names = attribute_names(settings)
        self.paths = attribute_paths(settings)
        self._types: tuple[float, dict[str, dict[str, Any]]] | None = None
        self.notes: list[str] = []  # what the last :meth:`problems` could not compare
        self._screens: dict[str, tuple[float, dict[str, FieldMeta]]] = {}

    # -- what the type sets ----------------------------------------------------------------

    def issue_type_for(self, type_name: Any) -> tuple[str, str]:
        """(issue type name, key path that chose it) for a casavi type."""
        text = text_of(type_name)
        mapped = self.settings.field_map.type.issue_types
        if text in mapped:
            return mapped[text], f'[jira.field_map.type] issue_types "{text}"'
        return self.settings.issue_type, "[jira] issue_type"

    def _type_lists(self, table: Mapping[str, list[str]], type_name: Any) -> list[str]:
        return list(table.get(text_of(type_name), ()))

    def type_labels(self, type_name: Any) -> list[str]:
        fm = self.settings.field_map
        return labels_for(fm.label_prefix, self._type_lists(fm.type.labels, type_name))

    def _all_type_labels(self) -> set[str]:
        fm = self.settings.field_map
        return {label for names in fm.type.labels.values() for label in labels_for(fm.label_prefix, names)}

    def _all_type_components(self) -> set[str]:
        return {c.casefold() for names in self.settings.field_map.type.components.values() for c in names}

    # -- reads (cached) -----------------------------------------------------------------------

    def issue_types(self) -> dict[str, dict[str, Any]]:
        """The project's issue types by folded name (``GET /project/{key}``, kept a while)."""
        now = time.monotonic()
        if self._types is None or now - self._types[0] > META_TTL_SECONDS:
            project = self.get(f"project/{self.settings.project}") or {}
            types = {str(t.get("name", "")).casefold(): t for t in project.get("issueTypes") or []}
            self._types = (now, types)
        return self._types[1]

    def create_screen(self, issue_type_id: str) -> dict[str, FieldMeta]:
        """The create screen of an issue type (``createmeta``, every page; kept a while)."""
        now = time.monotonic()
        cached = self._screens.get(issue_type_id)
        if cached is not None and now - cached[0] <= META_TTL_SECONDS:
            return cached[1]
        found: dict[str, FieldMeta] = {}
        start = 0
        while True:
            page = self.get(f"issue/createmeta/{self.settings.project}/issuetypes/{issue_type_id}",
                            {"startAt": start, "maxResults": 200}) or {}
            metas = screen_fields(page)
            found.update(metas)
            start += len(metas)
            total = page.get("total")
            if not metas or page.get("isLast") is True or total is None or start >= int(total):
                break
        self._screens[issue_type_id] = (now, found)
        return found

    # -- create ------------------------------------------------------------------------------

    def for_create(self, attributes: Mapping[str, Any]) -> CreatePlan:
        """The fields a new issue gets from ``attributes`` (see the module docstring)."""
        default = self.settings.issue_type
        wanted = {n: attributes.get(n) for n in self.names}
        plan = CreatePlan(issue_type=default)
        if not wanted:
            return plan
        type_ok = True
        if TYPE in wanted and self.settings.field_map.type.issue_types:
            name, _ = self.issue_type_for(wanted[TYPE])
            if name.casefold() in self.issue_types():
                plan.issue_type = name
                if name.casefold() != default.casefold():
                    plan.sources["issuetype"] = TYPE
            else:
                type_ok = False
        issue_type = self.issue_types().get(plan.issue_type.casefold()) or {}
        screen = self.create_screen(str(issue_type["id"])) if issue_type.get("id") else {}
        if TYPE in wanted:
            type_ok &= self._create_type(plan, wanted[TYPE], screen)
            if type_ok:
                plan.stored.add(TYPE)
        for name, (_, target) in self.paths.items():
            if name not in wanted:
                continue
            value = translated(wanted[name], target.values)
            meta = screen.get(target.field)
            if meta is None:
                if _blank(value):
                    plan.stored.add(name)  # nothing to write on a new issue
                continue
            try:
                converted = field_value(value, meta, find_user=self.find_user, text_limit=self.settings.text_limit)
            except ValueRefused:
                continue  # the edit that follows names the refusal
            if converted not in (None, []):
                plan.fields[target.field] = converted
                plan.sources[target.field] = name
            plan.stored.add(name)
        return plan

    def _create_type(self, plan: CreatePlan, type_name: Any, screen: Mapping[str, FieldMeta]) -> bool:
        fm = self.settings.field_map.type
        ok = True
        components = self._type_lists(fm.components, type_name)
        if components:
            meta = screen.get("components")
            try:
                if meta is None:
                    raise ValueRefused("not on the create screen")
                plan.fields["components"] = field_value(components, meta)
                plan.sources["components"] = TYPE
            except ValueRefused:
                ok = False
        labels = self.type_labels(type_name)
        if labels:
            plan.labels = labels
            plan.sources["labels"] = TYPE
        return ok

    # -- edit --------------------------------------------------------------------------------

    def write(self, issue_id: str, name: str, value: Any, send: Callable[[dict[str, Any]], None]) -> None:
        """Set the Jira fields of attribute ``name`` to ``value`` on issue ``issue_id``: one read
        (the issue's current values and its ``editmeta``), one edit through ``send`` (unless the
        issue holds the value already).  RefusedError names the key when Jira cannot take it."""
        if name not in self.names:
            raise RefusedError(f"jira: attribute {name!r} is not mapped in [jira.field_map]")
        wanted_fields = ["issuetype", "components", "labels"] if name == TYPE else ["issuetype", self.paths[name][1].field]
        raw = self.get(f"issue/{issue_id}", {"fields": ",".join(wanted_fields), "expand": "editmeta"}) or {}
        current = raw.get("fields") or {}
        editmeta = screen_fields(raw.get("editmeta") or {})
        issue_type = str((current.get("issuetype") or {}).get("name") or "?")
        if name == TYPE:
            body = self._type_edit(value, current, editmeta, issue_type)
        else:
            body = self._field_edit(name, value, editmeta, issue_type)
        if body.get("fields") or body.get("update"):
            send(body)

    def _field_edit(self, name: str, value: Any, editmeta: Mapping[str, FieldMeta], issue_type: str) -> dict[str, Any]:
        path, target = self.paths[name]
        meta = editmeta.get(target.field)
        if meta is None:
            raise RefusedError(f"jira: {path} <- field {target.field!r} is not on the edit screen of issue type "
                               f"{issue_type!r} (or Jira has no such field): add it to that screen or map the "
                               "value to another field")
        try:
            converted = field_value(translated(value, target.values), meta, find_user=self.find_user,
                                    text_limit=self.settings.text_limit)
        except ValueRefused as exc:
            raise RefusedError(f"jira: {path} <- casavi value {text_of(value)!r}: {exc}") from None
        return {"fields": {target.field: converted}}

    def _type_edit(self, type_name: Any, current: Mapping[str, Any], editmeta: Mapping[str, FieldMeta],
                   issue_type: str) -> dict[str, Any]:
        fm = self.settings.field_map.type
        fields: dict[str, Any] = {}
        update: dict[str, list[dict[str, Any]]] = {}
        if fm.issue_types:
            wanted, path = self.issue_type_for(type_name)
            if wanted.casefold() != issue_type.casefold():
                meta = editmeta.get("issuetype")
                try:
                    if meta is None:
                        raise ValueRefused(f"the edit screen of {issue_type!r} offers no change of issue type")
                    fields["issuetype"] = field_value(wanted, meta)
                except ValueRefused as exc:
                    raise RefusedError(
                        f"jira: {path} <- issue type {wanted!r} for casavi type {text_of(type_name)!r}: {exc}; "
                        "Jira changes the type by an edit only between types with the same workflow and "
                        "field configuration (else move the issue in Jira)") from None
        text = text_of(type_name)
        if fm.components:
            update.update(self._components_edit(text, current, editmeta, issue_type))
        if fm.labels:
            have = [str(label) for label in current.get("labels") or []]
            new = self.type_labels(text)
            ops = [{"remove": label} for label in have if label in self._all_type_labels() and label not in new]
            ops += [{"add": label} for label in new if label not in have]
            if ops:
                update["labels"] = ops
        return {"fields": fields, "update": update}

    def _components_edit(self, type_text: str, current: Mapping[str, Any], editmeta: Mapping[str, FieldMeta],
                         issue_type: str) -> dict[str, list[dict[str, Any]]]:
        path = f'[jira.field_map.type] components "{type_text}"'
        have = {str(c.get("name") or "").casefold(): c for c in current.get("components") or []
                if isinstance(c, Mapping)}
        new = self._type_lists(self.settings.field_map.type.components, type_text)
        stale = [c for folded, c in have.items() if folded in self._all_type_components()
                 and folded not in {n.casefold() for n in new}]
        missing = [n for n in new if n.casefold() not in have]
        if not stale and not missing:
            return {}
        meta = editmeta.get("components")
        if meta is None:
            raise RefusedError(f"jira: {path} <- Components are not on the "
                               f"edit screen of issue type {issue_type!r}: add the field to that screen")
        try:
            added = field_value(missing, meta) if missing else []
        except ValueRefused as exc:
            raise RefusedError(f"jira: {path} <- {exc}; create the component in project "
                               f"{self.settings.project} or correct the name") from None
        return {"components": [{"remove": {"id": str(c.get("id"))}} for c in stale] + [{"add": c} for c in added]}

    # -- check -------------------------------------------------------------------------------

    def problems(self, sample_issue: Callable[[str], str | None] | None = None) -> list[str]:
        """Read-only: every mapped field on the create screen of every issue type the bridge may
        create, and every value the configuration names (components, ``values``) one Jira takes.
        With ``sample_issue`` (issue type name → the key of an issue of that type, or None) the
        edit screens are compared too, as ``editmeta`` shows them for such an issue (an edit
        screen cannot be read without an issue; a type without issues is not compared)."""
        self.notes = []
        if not self.names:
            return []
        problems: list[str] = []
        types = self.issue_types()
        fm = self.settings.field_map
        wanted_types: dict[str, str] = {self.settings.issue_type.casefold(): "[jira] issue_type"}
        for casavi_type, name in fm.type.issue_types.items():
            path = f'[jira.field_map.type] issue_types "{casavi_type}"'
            if name.casefold() not in types or types[name.casefold()].get("subtask"):
                problems.append(f"jira: {path} <- project {self.settings.project} has no issue type {name!r} "
                                f"(issue types: {', '.join(sorted(t.get('name', '') for t in types.values()))})")
            else:
                wanted_types.setdefault(name.casefold(), path)
        for folded, chose in wanted_types.items():
            issue_type = types.get(folded)
            if issue_type is None or not issue_type.get("id"):
                continue
            shown = issue_type.get("name", folded)
            screen = self.create_screen(str(issue_type["id"]))
            if screen:  # else createmeta is not readable here: nothing to compare with
                problems += self._screen_problems(screen, f"the create screen of issue type {shown!r}")
            key = sample_issue(shown) if sample_issue is not None else None
            if sample_issue is not None and not key:
                self.notes.append(f"jira: [jira.field_map]: the edit screen of issue type {shown!r} was not compared "
                                  "(no issue of that type in the project yet); Jira names what it refuses per write")
            if key:
                raw = self.get(f"issue/{key}/editmeta") or {}
                edit = screen_fields(raw)
                if edit:
                    problems += [p for p in self._screen_problems(edit, f"the edit screen of issue type {shown!r} "
                                                                       f"(as {key} shows it)")
                                 if p not in problems]
        return problems

    def _screen_problems(self, screen: Mapping[str, FieldMeta], where: str) -> list[str]:
        fm = self.settings.field_map
        found: list[str] = []
        if fm.type.components:
            meta = screen.get("components")
            for casavi_type, names in fm.type.components.items():
                path = f'[jira.field_map.type] components "{casavi_type}"'
                if meta is None:
                    found.append(f"jira: {path} <- Components are not on {where}")
                    break
                found += _value_problems(path, names, meta)
        if fm.type.labels and "labels" not in screen:
            found.append(f"jira: [jira.field_map.type] labels <- Labels are not on {where}")
        for name, (path, target) in self.paths.items():
            meta = screen.get(target.field)
            if meta is None:
                found.append(f"jira: {path} <- field {target.field!r} is not on {where} (or Jira has no such "
                             "field); its values would not reach Jira")
                continue
            if meta.allowed is not None and target.values:
                found += _value_problems(f"{path} values", list(target.values.values()), meta)
        return found


def _value_problems(path: str, values: Iterable[Any], meta: FieldMeta) -> list[str]:
    out = []
    for value in values:
        try:
            field_value(value, meta, find_user=lambda _text: {"name": _text})
        except ValueRefused as exc:
            out.append(f"jira: {path} <- {exc}")
    return out


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()
