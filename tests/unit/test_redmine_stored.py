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
    assert "(2026-12-24 sent, empty kept)" in lost[0]


def test_clearing_a_field_redmine_keeps_is_a_difference_too():
    [line] = unstored({"due_date": None}, {**ISSUE, "due_date": "2026-12-24"})
    assert "(empty sent, 2026-12-24 kept)" in line


def test_a_description_counts_as_kept_when_redmine_keeps_any_of_it():
    assert unstored({"description": "Die Heizung\nist kalt.  "}, {**ISSUE, "description": "Die Heizung ist kalt."}) == []
    [line] = unstored({"description": "Die Heizung ist kalt."}, {**ISSUE, "description": None})
    assert "description" in line


def test_attributes_not_sent_are_not_compared():
    assert unstored({"subject": "Neu"}, {**ISSUE, "due_date": "2026-12-24"}) == []
