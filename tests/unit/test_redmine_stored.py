"""What Redmine did not store of a write it answered with success (connectors.redmine.stored):
the sent ``issue`` body against the issue as read back."""

from connectors.redmine.stored import unstored

ISSUE = {"id": 7, "tracker": {"id": 5, "name": "Schaden"}, "status": {"id": 1, "name": "New"},
         "subject": "Heizung", "description": "Die Heizung\r\nist kalt."}


def test_everything_kept_is_no_difference():
    issue = {**ISSUE, "due_date": "2026-12-24", "assigned_to": {"id": 5, "name": "Max"}, "parent": {"id": 3}}
    body = {"subject": "Heizung", "description": "Die Heizung\nist kalt.", "due_date": "2026-12-24",
            "assigned_to_id": 5, "parent_issue_id": 3}
    assert unstored(body, issue) == []


def test_a_dropped_due_date_assignee_and_parent_are_each_named_with_where_to_switch_them_on():
    lost = unstored({"due_date": "2026-12-24", "assigned_to_id": 5, "parent_issue_id": 3}, ISSUE)
    assert [line.split(" of #7")[0] for line in lost] == [
        "Redmine did not store the due date", "Redmine did not store the assignee",
        "Redmine did not store the parent task"]
    assert all("Administration » Trackers » Schaden » Standard fields" in line and "status 'New'" in line
               for line in lost)
    assert "('2026-12-24' sent, empty kept)" in lost[0]


def test_clearing_a_field_redmine_keeps_is_a_difference_too():
    [line] = unstored({"due_date": None}, {**ISSUE, "due_date": "2026-12-24"})
    assert "(empty sent, '2026-12-24' kept)" in line


def test_a_description_is_compared_without_line_end_differences_and_an_old_one_kept_is_reported():
    assert unstored({"description": "Die Heizung\nist kalt.\n"}, ISSUE) == []
    # Switched off or read-only: Redmine keeps the text it had, which is not what was sent.
    [line] = unstored({"description": "Die Heizung ist wieder warm. " * 5}, ISSUE)
    assert line.startswith("Redmine did not store the description of #7 ('Die Heizung ist wieder warm. Die Heizung")
    assert "…' sent, 'Die Heizung\\nist kalt.' kept)" in line  # values cut at 60 characters
    [title] = unstored({"subject": "Heizung kalt"}, ISSUE)
    assert "title" in title and "Standard fields" in title


def test_a_parent_tasks_due_date_derived_from_its_sub_tasks_names_that_setting():
    [line] = unstored({"due_date": "2026-12-24"}, {**ISSUE, "children": [{"id": 8}]})
    assert "Parent tasks attributes" in line and "Trackers" not in line


def test_attributes_not_sent_are_not_compared():
    assert unstored({"subject": "Heizung"}, {**ISSUE, "due_date": "2026-12-24"}) == []
