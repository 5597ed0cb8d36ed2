"""Comments, attachments, entity properties and remote links of the Jira sandbox's issues.

Mixed into :class:`~bridge.sandbox.jira.store.JiraStore`; uses its ``lock``, ``issue``,
``tick``, ``touch``, ``_new_id`` and ``options``.  Every write here moves the issue's
``updated``, as a comment, attachment, property or link change does in Jira.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from bridge.sandbox.jira.catalog import GROUPS, PROJECT_ROLES, PROPERTY_VALUE_MAX_BYTES, JiraUser
from bridge.sandbox.jira.fields import JiraApiError, too_long
from bridge.sandbox.jira.records import Attachment, Comment, Issue, RemoteLink


class ItemsMixin:
    """Comments, attachments, entity properties and remote links; mixed into JiraStore."""

    def _check_properties(self, properties: Any) -> dict[str, Any]:
        if properties in (None, []):
            return {}
        if not isinstance(properties, list) or not all(
                isinstance(p, Mapping) and isinstance(p.get("key"), str) for p in properties):
            raise JiraApiError(400, ["Properties must be an array of {key, value} objects."])
        checked: dict[str, Any] = {}
        for prop in properties:
            self.check_property(prop["key"], prop.get("value"))
            checked[prop["key"]] = prop.get("value")
        return checked

    @staticmethod
    def check_property(key: str, value: Any) -> None:
        if not key or len(key) > 255:
            raise JiraApiError(400, ["The property key cannot be empty or longer than 255 characters."])
        if len(json.dumps(value).encode()) > PROPERTY_VALUE_MAX_BYTES:
            raise JiraApiError(400, [f"The property value cannot be longer than"
                                     f" {PROPERTY_VALUE_MAX_BYTES} bytes."])

    # -- comments -----------------------------------------------------------------------------

    def add_comment(self, id_or_key: str, body: Any, author: JiraUser,
                    visibility: Any = None, properties: Any = None) -> Comment:
        with self.lock:
            issue = self.issue(id_or_key)
            self._check_comment(body, visibility, author)
            props = self._check_properties(properties)
            now = self.tick()
            comment = Comment(self._new_id("comment"), body, author, author, now, now,
                              dict(visibility) if visibility else None, props)
            issue.comments.append(comment)
            self._stamp(issue, now)
            return comment

    def _check_comment(self, body: Any, visibility: Any, author: JiraUser | None = None) -> None:
        if not isinstance(body, str) or not body.strip():
            raise JiraApiError(400, [], {"comment": "Comment body can not be empty!"})
        limit = self.options.text_limit
        if len(body) > limit:
            raise JiraApiError(400, [], {"comment": too_long(limit)})
        if visibility is None:
            return
        kind = visibility.get("type") if isinstance(visibility, Mapping) else None
        value = visibility.get("value") if isinstance(visibility, Mapping) else None
        if kind not in ("role", "group"):
            raise JiraApiError(400, [], {"commentLevel": "Visibility type must be 'role' or 'group'."})
        # Only the API account's memberships are configured (--jira-user-roles/-groups); the
        # people acting through the control endpoints are in every role and group.
        api_user = author is None or author == self.api_user
        if kind == "role":
            if value not in PROJECT_ROLES:
                # Jira Cloud's answer for an unknown role (atlassian/atlassian-mcp-server#105).
                raise JiraApiError(400, [], {"commentLevel": f"Role with id: {value} does not exist."})
            if api_user and value not in self.options.user_roles:
                # errors.commentLevel as real Jira answers (reload/github-security-jira#128,
                # unskript/Awesome-CloudOps-Automation#377).
                raise JiraApiError(400, [], {"commentLevel": f"You are currently not a member of the"
                                                             f" project role: {value}."})
            return
        if not self.options.group_visibility:
            # Group visibility switched off by an administrator (atlassian/atlassian-mcp-server#105).
            raise JiraApiError(400, [], {"commentLevel": "GROUP_VISIBILITY_SETTING_NOT_ENABLED"})
        if value not in GROUPS or (api_user and value not in self.options.user_groups):
            raise JiraApiError(400, [], {"commentLevel": f"You are currently not a member of the"
                                                         f" group: {value}."})

    def comment(self, id_or_key: str, comment_id: str) -> tuple[Issue, Comment]:
        with self.lock:
            issue = self.issue(id_or_key)
            found = next((c for c in issue.comments if str(c.comment_id) == str(comment_id)), None)
            if found is None:
                raise JiraApiError(404, [f"Can not find a comment for the id: {comment_id}."])
            return issue, found

    def update_comment(self, id_or_key: str, comment_id: str, body: Any, visibility: Any,
                       actor: JiraUser, properties: Any = None) -> Comment:
        with self.lock:
            issue, comment = self.comment(id_or_key, comment_id)
            new_body = comment.body if body is None else body
            self._check_comment(new_body, visibility, actor)
            props = self._check_properties(properties)
            now = self.tick()
            comment.body = new_body
            if visibility is not None:
                comment.visibility = dict(visibility)
            comment.properties.update(props)
            comment.update_author, comment.updated_ms = actor, now
            self._stamp(issue, now)
            return comment

    def delete_comment(self, id_or_key: str, comment_id: str) -> None:
        with self.lock:
            issue, comment = self.comment(id_or_key, comment_id)
            issue.comments.remove(comment)
            self.touch(issue)

    # -- attachments --------------------------------------------------------------------------

    def add_attachment(self, id_or_key: str, filename: str, data: bytes, mime_type: str,
                       author: JiraUser) -> Attachment:
        with self.lock:
            issue = self.issue(id_or_key)
            limit = self.options.max_attachment_bytes
            if len(data) > limit:
                # Cloud answers 413; Data Center's document gives 404 for "exceeds the maximum
                # configured attachment size" -- a 404 here does not mean the issue is gone.
                raise JiraApiError(413 if self.options.cloud else 404, [
                    f"The file '{filename}' is too large: it is {len(data)} bytes, the maximum"
                    f" is {limit} bytes."])
            now = self.tick()
            attachment = Attachment(self._new_id("attachment"), issue.issue_id, filename,
                                    mime_type, len(data), author, now)
            self._store_blob(attachment.attachment_id, data)
            issue.attachments.append(attachment)
            self._stamp(issue, now)
            return attachment

    def attachment(self, attachment_id: str | int) -> tuple[Issue, Attachment]:
        with self.lock:
            for issue in self._issues.values():
                for attachment in issue.attachments:
                    if str(attachment.attachment_id) == str(attachment_id):
                        return issue, attachment
            raise JiraApiError(404, [f"The attachment with id '{attachment_id}' does not exist"])

    def attachment_bytes(self, attachment_id: int) -> bytes:
        if self._blob_dir is not None:
            return (self._blob_dir / str(attachment_id)).read_bytes()
        return self._blobs[attachment_id]

    def delete_attachment(self, attachment_id: str) -> None:
        with self.lock:
            issue, attachment = self.attachment(attachment_id)
            issue.attachments.remove(attachment)
            self._drop_blob(attachment.attachment_id)
            self.touch(issue)

    def _store_blob(self, attachment_id: int, data: bytes) -> None:
        if self._blob_dir is not None:
            (self._blob_dir / str(attachment_id)).write_bytes(data)
        else:
            self._blobs[attachment_id] = data

    def _drop_blob(self, attachment_id: int) -> None:
        if self._blob_dir is not None:
            (self._blob_dir / str(attachment_id)).unlink(missing_ok=True)
        else:
            self._blobs.pop(attachment_id, None)

    # -- entity properties and remote links ---------------------------------------------------

    def set_property(self, id_or_key: str, key: str, value: Any) -> bool:
        """Store the property; True when it was created (201), False when replaced (200)."""
        with self.lock:
            issue = self.issue(id_or_key)
            self.check_property(key, value)
            created = key not in issue.properties
            issue.properties[key] = value
            self.touch(issue)
            return created

    def get_property(self, id_or_key: str, key: str) -> Any:
        with self.lock:
            issue = self.issue(id_or_key)
            if key not in issue.properties:
                raise JiraApiError(404, [f"The property with key '{key}' does not exist."])
            return issue.properties[key]

    def delete_property(self, id_or_key: str, key: str) -> None:
        with self.lock:
            issue = self.issue(id_or_key)
            self.get_property(id_or_key, key)
            del issue.properties[key]
            self.touch(issue)

    def upsert_remote_link(self, id_or_key: str, body: Any,
                           link_id: str | None = None) -> tuple[RemoteLink, bool]:
        """Create a link, or replace the one with ``link_id`` or the same globalId; (link, created)."""
        with self.lock:
            issue = self.issue(id_or_key)
            obj = body.get("object") if isinstance(body, Mapping) else None
            errors = {}
            if not isinstance(obj, Mapping) or not obj.get("title"):
                errors["title"] = "'title' is required."
            if not isinstance(obj, Mapping) or not obj.get("url"):
                errors["url"] = "'url' is required."
            if errors:
                raise JiraApiError(400, [], errors)
            global_id = body.get("globalId")
            existing = self.remote_link(issue.key, link_id) if link_id else next(
                (link for link in issue.remote_links if global_id and link.global_id == global_id), None)
            link = existing or RemoteLink(self._new_id("link"), {})
            link.object, link.global_id = dict(obj), global_id
            link.application, link.relationship = body.get("application"), body.get("relationship")
            if existing is None:
                issue.remote_links.append(link)
            self.touch(issue)
            return link, existing is None

    def remote_link(self, id_or_key: str, link_id: str) -> RemoteLink:
        with self.lock:
            issue = self.issue(id_or_key)
            found = next((lk for lk in issue.remote_links if str(lk.link_id) == str(link_id)), None)
            if found is None:
                raise JiraApiError(404, [f"No remote link with id '{link_id}' exists on this issue."])
            return found

    def delete_remote_links(self, id_or_key: str, links: Iterable[RemoteLink]) -> None:
        with self.lock:
            issue = self.issue(id_or_key)
            for link in list(links):
                issue.remote_links.remove(link)
            self.touch(issue)
