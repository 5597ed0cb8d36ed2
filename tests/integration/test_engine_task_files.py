"""A task's craftsman and files through the engine into the reference tool (memory connector):
the sub-item's header names the craftsman, the task's files reach the sub-item and a file
added to the sub-item comes back, once, as the visibility setting says."""

from __future__ import annotations

from bridge.model import Task
from tests.integration.test_engine_memory import World

CRAFTSMAN = (("Craftsman", "Klaus Wassermann (Sanitär Wassermann), k@w.example, +49 89 1"),)


def test_craftsman_header_and_task_files_both_ways_once(tmp_path, state_url):
    world = World(tmp_path, state_url)
    quote = world.source.new_file("Angebot.txt", b"420 EUR")
    world.source.add_ticket("P-1", "Rohrbruch", tasks=(Task("t1", "Rohr abdichten", "Bis Freitag", facts=CRAFTSMAN,
                                                            attachments=(quote,)),))
    world.sync()
    [sub] = world.issue_for("P-1").sub_items
    assert sub.description == f"Craftsman: {CRAFTSMAN[0][1]}\n\nBis Freitag"
    assert [(f.name, f.marker) for f in sub.attachments] == [("Angebot.txt", quote.attachment_id)]
    assert world.issue_for("P-1").attachments == ()
    photo = tmp_path / "photo.txt"
    photo.write_bytes(b"nachher")
    world.tool.add_attachment(sub.sub_id, "Foto.txt", "text/plain", photo, marker=None)
    for _ in range(3):
        world.sync()
    item = world.source.items["P-1"]
    carriers = [c for c in item.comments if c.comment_id.startswith(f"memory-{sub.sub_id}-a-")]
    assert [(c.internal, len(c.file_ids)) for c in carriers] == [(True, 1)]
    assert [w[0] for w in world.source.writes] == ["file", "comment"]
    assert [f.name for f in world.issue_for("P-1").sub_items[0].attachments] == ["Angebot.txt", "Foto.txt"]
    assert world.issue_for("P-1").attachments == ()  # the carried file is the task's, not the ticket's
    world.source.edit("P-1", tasks=(replace_facts(item.tasks[0], ()),))
    world.sync()
    assert world.issue_for("P-1").sub_items[0].description == "Bis Freitag"
    assert world.sync().differences == 0


def test_public_setting_attaches_the_sub_items_file_to_the_task(tmp_path, state_url):
    world = World(tmp_path, state_url, tool_files_to_source="public")
    world.source.add_ticket("P-1", "Rohrbruch", tasks=(Task("t1", "Rohr abdichten"),))
    world.sync()
    [sub] = world.issue_for("P-1").sub_items
    photo = tmp_path / "photo.txt"
    photo.write_bytes(b"nachher")
    world.tool.add_attachment(sub.sub_id, "Foto.txt", "text/plain", photo, marker=None)
    for _ in range(3):
        world.sync()
    [task] = world.source.items["P-1"].tasks
    assert [f.size for f in task.attachments] == [7]
    assert [w[0] for w in world.source.writes] == ["file", "task_file"]
    assert len(world.issue_for("P-1").sub_items[0].attachments) == 1
    assert world.sync().differences == 0


def replace_facts(task: Task, facts) -> Task:
    from dataclasses import replace

    return replace(task, facts=facts)


def test_a_status_written_back_to_a_task_with_a_craftsman_leaves_its_sub_item_alone(tmp_path, state_url):
    # The task's recorded hash keeps its header lines: after the status goes back to casavi,
    # the next pass sees nothing to write (it used to rewrite the sub-item once).
    world = World(tmp_path, state_url)
    world.source.add_ticket("P-1", "Rohrbruch", tasks=(Task("t1", "Rohr abdichten", "Bis Freitag", facts=CRAFTSMAN),))
    world.sync()
    [sub] = world.issue_for("P-1").sub_items
    world.tool.edit_sub_item_as_user(sub.sub_id, status="Done")
    world.sync()
    assert world.source.items["P-1"].tasks[0].status == "COMPLETED"
    assert world.sync().differences == 0
