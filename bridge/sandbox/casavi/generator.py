"""Deterministic sample data for the casavi sandbox: ``generate(tickets=N, seed=S)``.

The same (tickets, seed) always gives the same data: one :class:`random.Random`, no clock,
no uuid; every time is an offset from the fixed :data:`ANCHOR` (tickets were created in the
two years before it).  The data carries what a real account carries and what trips clients:
German and English text with umlauts and ß, markdown, a few very long descriptions,
internal comments, tasks in every status (two of three assigned to a craftsman: a contact with
company, e-mail and telephone or mobile), small attachments with non-ASCII names, ``number``
as string or integer (see :mod:`bridge.sandbox.casavi.render`), ``reportedAt`` sometimes
"Invalid Date", ``postalCode`` sometimes a number and sometimes a string.

Generation is linear and cheap (20,000 tickets in about a second): texts are drawn from
fixed pools, attachments are a few hundred bytes.

Profiles: ``"mixed"`` (the default) is the random mix above.  ``"bench"`` gives every ticket
the same shape, so a benchmark can state exactly which requests a mirror must make: status
OPEN, a short description, 3 public comments, 1 OPEN task and 1 small ticket attachment.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

from bridge.sandbox.casavi.records import (
    APP_LINK_BASE, TYPE_GROUPS, CommentRecord, Dataset, FileRecord, TaskRecord, TicketRecord, ms_from_datetime,
)

ANCHOR = datetime(2025, 6, 1, tzinfo=timezone.utc)
ANCHOR_MS = ms_from_datetime(ANCHOR)
DAY_MS = 86_400_000
FIRST_TICKET_INTERNAL_ID = 41001

# Ticket status mix: (status, weight).
STATUS_WEIGHTS = (("PENDING", 10), ("OPEN", 30), ("INPROGRESS", 20), ("POSTPONED", 10), ("CLOSED", 30))
TASK_STATUSES = ("OPEN", "ACCEPTED", "COMPLETED", "DECLINED")

FIRST_NAMES = ("Jürgen", "Ümit", "Anna", "Özlem", "Björn", "Søren", "Maria", "Günther",
               "Lena", "Jörg", "Fatma", "Zoë", "Paul", "Käthe", "Noah", "Émilie")
LAST_NAMES = ("Schäfer", "Groß", "Müller", "Weiß", "Öztürk", "Becker", "Hoffmann", "Krämer",
              "Smith", "O'Brien", "Straßer", "Köhler", "Nguyen", "Lange", "Fuß", "Brandt")
STREETS = ("Hauptstraße", "Münchner Straße", "Schloßallee", "Königsweg", "Am Flußufer", "Gartenstraße",
           "Lindenstraße", "Bahnhofstraße", "Grüner Weg", "Main Street")
CITIES = (("München", "80331"), ("Köln", "50667"), ("Düsseldorf", "40213"), ("Nürnberg", "90402"),
          ("Berlin", "10115"), ("Hamburg", "20095"), ("Würzburg", "97070"), ("Dresden", "01067"))
PROPERTY_NAMES = ("Wohnanlage Sonnenhügel", "Easy Living Apartments", "Haus am Schloßpark", "Lindenhöfe",
                  "Residenz Ökopark", "Riverside Lofts", "Gründerzeithaus Süd", "Quartier Mühlbach")
TITLES = (
    "Heizung im Bad funktioniert nicht", "Wasserschaden in der Küche", "Aufzug steckt im 3. OG",
    "Schlüssel für den Fahrradkeller verloren", "Schimmel im Schlafzimmer", "Broken window in stairwell",
    "Müllabfuhr hat Tonnen nicht geleert", "Lärmbelästigung durch Nachbarn", "Garage door won't open",
    "Türöffner defekt", "Rauchmelder piept", "Leaking pipe under the sink", "Treppenhausbeleuchtung aus",
    "Balkontür schließt nicht richtig", "Hot water outage", "Rückfrage zur Nebenkostenabrechnung",
    "Graffiti an der Fassade", "Klingelschild falsch beschriftet", "Ungeziefer im Keller", "Parking spot blocked",
)
DESCRIPTIONS = (
    "Seit gestern Abend ist die **Heizung** kalt. Bitte um schnelle Rückmeldung – es ist sehr kühl.",
    "Hello,\n\nplease repair the broken water pipe. It has been leaking for a few days.\n"
    "The address is Musterstraße 33, please contact us for an appointment.",
    "Folgende Mängel:\n\n- Fenster zieht\n- Tür klemmt\n- Steckdose im Flur lose\n\nDanke & Grüße",
    "Der Aufzug bleibt zwischen den Etagen stehen. Betroffen: *alle* Bewohner ab dem 3. OG.",
    "I noticed water dripping from the ceiling in the hallway. See [photo](https://example.org/p.jpg).",
    "Bitte prüfen Sie die Abrechnung für 2024; die Position „Hausmeister“ erscheint doppelt.",
    "## Schaden\n\nRiss in der Wand (ca. 30 cm).\n\n## Wann\n\nSeit dem Umbau nebenan.\n\n> Dringend!",
    "Kurze Info: Der Schlüssel ist weg. Größe ähnlich wie üblich, Anhänger grün.",
    "",
)
COMMENTS = (
    "Danke für Ihre Meldung, wir kümmern uns darum.", "Handwerker ist für Donnerstag, 9–12 Uhr, beauftragt.",
    "Any update on this? It's getting worse.", "Interne Notiz: Versicherung informieren (Schadensnr. folgt).",
    "Termin bestätigt. Bitte Zugang zum Keller ermöglichen.", "**Erledigt** – bitte kurz Rückmeldung geben.",
    "The technician could not get in; nobody answered the door.", "Rückruf erbeten unter 089 1234567.",
    "Kostenvoranschlag liegt vor: 1.250,00 € brutto.", "Intern: Eigentümer muss Freigabe erteilen (> 1.000 €).",
)
TASK_TITLES = ("Bitte Heizungsmonteur beauftragen", "Please fix broken water pipe in Musterstraße 33",
               "Schlüsseldienst bestellen", "Gutachter für Feuchteschaden", "Elevator maintenance visit",
               "Malerarbeiten Treppenhaus")
LONG_PARAGRAPH = ("Sehr geehrte Damen und Herren, hiermit möchte ich ausführlich schildern, was in unserer "
                  "Wohnung passiert ist: Über mehrere Wochen hinweg hat sich an der Außenwand Feuchtigkeit "
                  "gebildet, die trotz regelmäßigen Lüftens nicht verschwindet. Äußerst ärgerlich ist, dass "
                  "auch Möbel betroffen sind. Grüße aus dem Erdgeschoß.\n\n")
TICKET_TYPES = tuple((name, TYPE_GROUPS[name]) for name in ("Schaden", "Anfrage", "Beschwerde", "Damage"))
ATTACHMENT_KINDS = (
    ("Schadensmeldung_Küche.txt", "text/plain"),
    ("Foto_Bad_1.png", "image/png"),
    ("Übergabeprotokoll.pdf", "application/pdf"),
    ("meter reading.txt", "text/plain"),
)
PROFILES = ("mixed", "bench")
BENCH_COMMENTS, BENCH_TASKS, BENCH_ATTACHMENTS = 3, 1, 1  # per ticket in the "bench" profile
PNG_1X1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def generate(tickets: int = 200, seed: int = 1, profile: str = "mixed") -> Dataset:
    """The full data set for ``tickets`` tickets; identical for identical arguments."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}")
    rng = random.Random(seed)
    data = Dataset()
    data.staff = _staff()
    n_properties = max(2, min(400, tickets // 50 + 1))
    data.contacts = [_contact(rng, i) for i in range(1, max(8, tickets // 4) + 2)]
    for p_index in range(1, n_properties + 1):
        prop = _property(rng, p_index, data.staff)
        data.properties.append(prop)
        for u_index in range(1, rng.randint(3, 8) + 1):
            data.units.append(_unit(rng, prop, u_index, data.contacts))
    units_by_property: dict[str, list[dict]] = {}
    for unit in data.units:
        units_by_property.setdefault(unit["propertyId"], []).append(unit)
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    next_file_id = 101
    start_ms = ANCHOR_MS - 730 * DAY_MS
    span_ms = 700 * DAY_MS  # so every ticket's last change (≤ 14 days later) is before ANCHOR
    for index in range(1, tickets + 1):
        if profile == "bench":
            data.tickets.append(_bench_ticket(rng, data, index, units_by_property, start_ms + rng.randrange(span_ms)))
            continue
        prop = data.properties[rng.randrange(n_properties)]
        unit = rng.choice(units_by_property[prop["id"]]) if rng.random() < 0.8 else None
        contact = rng.choice(data.contacts)
        created = start_ms + rng.randrange(span_ms)
        type_name, type_group = rng.choice(TICKET_TYPES)
        status = rng.choices(statuses, weights)[0]
        description = rng.choice(DESCRIPTIONS)
        if rng.random() < 0.02:
            description = LONG_PARAGRAPH * rng.randint(20, 60)
        ticket = TicketRecord(
            ticket_id=f"T-{index:05d}", internal_id=FIRST_TICKET_INTERNAL_ID + index - 1, number=400 + index,
            title=rng.choice(TITLES), description=description, property_id=prop["id"], status=status,
            created_ms=created, modified_ms=created,
            reported_ms=None if rng.random() < 0.05 else created - rng.randrange(3 * DAY_MS),
            unit_id=unit["id"] if unit else None, type=type_name, type_group=type_group,
            contact_id=contact["id"], shared_with_property=rng.random() < 0.2,
            assigned_to_id=rng.choice(data.staff)["id"] if rng.random() < 0.7 else None,
            status_text="Abgelehnt" if rng.random() < 0.03 else None,
            custom_fields={"priority": rng.choice(("niedrig", "normal", "hoch")),
                           **_custom_fields(seed, index, type_name, created)},
        )
        moment = created
        if rng.random() < 0.1:
            name, content_type = rng.choice(ATTACHMENT_KINDS)
            data.files.append(_file(next_file_id, name, content_type, ticket.ticket_id, created))
            ticket.attachments.append(next_file_id)
            next_file_id += 1
        for c_index in range(rng.choice((0, 0, 1, 1, 2, 3))):
            moment += rng.randrange(1, 2 * DAY_MS)
            internal = rng.random() < 0.2
            author = rng.choice(data.staff) if internal or rng.random() < 0.6 else contact
            comment = CommentRecord(
                comment_id=f"{ticket.ticket_id}-c{c_index + 1}", text=rng.choice(COMMENTS), is_internal=internal,
                author_id=author["id"], author_name=f"{author['firstName']} {author['lastName']}",
                author_email=author["email"], created_ms=moment, modified_ms=moment)
            if rng.random() < 0.05:
                name, content_type = rng.choice(ATTACHMENT_KINDS)
                data.files.append(_file(next_file_id, name, content_type, comment.comment_id, moment))
                comment.attachments.append(next_file_id)
                ticket.attachments.append(next_file_id)
                next_file_id += 1
            ticket.comments[comment.comment_id] = comment
        if rng.random() < 0.25:
            for t_index in range(rng.randint(1, 2)):
                moment += rng.randrange(1, DAY_MS)
                task_status = rng.choice(TASK_STATUSES)
                task = TaskRecord(task_id=f"{ticket.ticket_id}-task{t_index + 1}", title=rng.choice(TASK_TITLES),
                                  description=rng.choice(DESCRIPTIONS), status=task_status,
                                  created_ms=moment, modified_ms=moment, created_by_id=ticket.assigned_to_id)
                if task_status != "OPEN":
                    setattr(task, f"{task_status.lower()}_ms", moment + 1000)
                ticket.tasks[task.task_id] = task
        if status == "CLOSED":
            moment += rng.randrange(1, 5 * DAY_MS)
            ticket.closed_ms = moment
        ticket.modified_ms = moment + rng.randrange(0, 3_600_000)
        data.tickets.append(ticket)
    if profile == "mixed":
        _add_craftsmen(data)
    return data


TRADES = ("Sanitär", "Elektro", "Heizung", "Dach")


def _custom_fields(seed: int, index: int, type_name: str, created_ms: int) -> dict:
    """More of the account's custom fields, typed as entered (a sum, a list, a date, a flag,
    sometimes null), from a generator of their own so the rest of the data set stays as it was."""
    rng = random.Random(f"custom-{seed}-{index}")
    found: dict = {}
    if type_name in ("Schaden", "Damage"):
        found["Schadenssumme"] = rng.choice((1250.5, 89, 4300, 17.99))
        found["Versicherungsfall"] = rng.random() < 0.4
    if rng.random() < 0.5:
        found["Gewerke"] = rng.sample(TRADES, rng.randint(1, 2))
    if rng.random() < 0.6:
        found["Meldedatum"] = datetime.fromtimestamp(created_ms / 1000, timezone.utc).date().isoformat()
    found["Kostenstelle"] = rng.choice(("KST-4711", "KST-0815", None))
    return found


# Craftsmen are contacts too (a task's assignedToId names "the contact the task is assigned
# to"): firms with a contact person, one without a telephone but a mobile, one firm without a
# person.  Added after everything else and without the random generator, so the rest of the data
# stays what it was for every (tickets, seed).
CRAFTSMEN = (
    ("H-0000001", "Klaus", "Wassermann", "Sanitär Wassermann & Söhne GmbH", "service@sanitaer-wassermann.example",
     "+49 89 5550101", None),
    ("H-0000002", "Petra", "Funke", "Elektro Funke", "p.funke@elektro-funke.example", None, "+49 171 5550102"),
    ("H-0000003", None, None, "Dachdeckerei Ziegler KG", "info@dach-ziegler.example", "+49 89 5550103", None),
)


def _add_craftsmen(data: Dataset) -> None:
    """The craftsmen as contacts, and two of every three tasks assigned to one of them."""
    for ident, first, last, company, email, telephone, mobile in CRAFTSMEN:
        number = int(ident[2:])
        data.contacts.append({
            "id": ident, "internalId": 60000 + number, "title": None, "salutation": None, "firstName": first,
            "lastName": last, "company": company, "companyRole": "Inhaber" if first else None, "email": email,
            "telephone": telephone, "mobile": mobile, "fax": None, "website": None, "street": None,
            "postalCode": None, "city": None, "country": "Germany", "note": "Handwerker", "isRegistered": False,
            "preferredWayOfContact": "EMAIL", "customFields": {}, "appLink": f"{APP_LINK_BASE}/contacts/{60000 + number}",
        })
    count = 0
    for ticket in data.tickets:
        for task in ticket.tasks.values():
            count += 1
            if count % 3:
                task.assigned_to_id = CRAFTSMEN[count % len(CRAFTSMEN)][0]


def _bench_ticket(rng: random.Random, data: Dataset, index: int, units_by_property: dict[str, list[dict]],
                  created: int) -> TicketRecord:
    """One ticket of the "bench" profile (see the module docstring); its file is added to ``data``."""
    prop = data.properties[rng.randrange(len(data.properties))]
    unit = rng.choice(units_by_property[prop["id"]])
    contact = rng.choice(data.contacts)
    ticket = TicketRecord(
        ticket_id=f"T-{index:05d}", internal_id=FIRST_TICKET_INTERNAL_ID + index - 1, number=400 + index,
        title=rng.choice(TITLES), description=rng.choice(DESCRIPTIONS[:-1]), property_id=prop["id"],
        status="OPEN", created_ms=created, modified_ms=created, reported_ms=created, unit_id=unit["id"],
        type="Schaden", type_group="Reparatur", contact_id=contact["id"], shared_with_property=False,
        assigned_to_id=data.staff[0]["id"], status_text=None, custom_fields={"priority": "normal"},
    )
    moment = created
    for _ in range(BENCH_ATTACHMENTS):
        file_id = 101 + len(data.files)
        data.files.append(_file(file_id, "Schadensmeldung_Küche.txt", "text/plain", ticket.ticket_id, moment))
        ticket.attachments.append(file_id)
    for c_index in range(BENCH_COMMENTS):
        moment += rng.randrange(1, DAY_MS)
        author = contact if c_index % 2 == 0 else data.staff[0]
        comment = CommentRecord(
            comment_id=f"{ticket.ticket_id}-c{c_index + 1}", text=rng.choice(COMMENTS), is_internal=False,
            author_id=author["id"], author_name=f"{author['firstName']} {author['lastName']}",
            author_email=author["email"], created_ms=moment, modified_ms=moment)
        ticket.comments[comment.comment_id] = comment
    for t_index in range(BENCH_TASKS):
        moment += rng.randrange(1, DAY_MS)
        task = TaskRecord(task_id=f"{ticket.ticket_id}-task{t_index + 1}", title=rng.choice(TASK_TITLES),
                          description=rng.choice(DESCRIPTIONS[:-1]), status="OPEN", created_ms=moment,
                          modified_ms=moment, created_by_id=ticket.assigned_to_id)
        ticket.tasks[task.task_id] = task
    ticket.modified_ms = moment
    return ticket


def _staff() -> list[dict]:
    people = (("Miriam", "Manager", "MANAGER"), ("Jörg", "Hausmeister", "EDITOR"),
              ("Sabine", "Größer", "ADMIN"), ("Tom", "Becker", "MANAGER"))
    return [{"id": f"M-{i:06d}", "internalId": 9000 + i, "firstName": first, "lastName": last,
             "email": f"{first.lower().replace('ö', 'oe')}.{last.lower().replace('ö', 'oe')}@hausverwaltung.example",
             "role": role} for i, (first, last, role) in enumerate(people, start=1)]


def _contact(rng: random.Random, index: int) -> dict:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, postal = rng.choice(CITIES)
    ident = f"C-{index:07d}"
    return {
        "id": ident, "internalId": 20000 + index, "title": None, "salutation": rng.choice(("Herr", "Frau", "Family")),
        "firstName": first, "lastName": last, "company": None, "companyRole": None,
        "email": f"contact{index}@mieter.example", "telephone": f"+49 89 {100000 + index}", "mobile": None,
        "fax": None, "website": None, "street": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
        "postalCode": postal, "city": city, "country": "Germany", "note": "", "isRegistered": rng.random() < 0.7,
        "preferredWayOfContact": rng.choice(("EMAIL", "LETTER", "PHONE")), "customFields": {},
        "appLink": f"{APP_LINK_BASE}/contacts/{20000 + index}",
    }


def _property(rng: random.Random, index: int, staff: list[dict]) -> dict:
    city, postal = rng.choice(CITIES)
    street = f"{rng.choice(STREETS)} {rng.randint(1, 80)}"
    internal_id = 30000 + index
    return {
        "id": f"P-{index:05d}", "internalId": internal_id,
        "name": f"{rng.choice(PROPERTY_NAMES)} {index}", "note": "", "country": "Germany", "city": city,
        # the document's sample has postalCode as a number; real accounts also return strings
        "postalCode": int(postal) if index % 2 and not postal.startswith("0") else postal,
        "number": 12000 + index, "mscNumber": str(index),
        "addresses": [{"street": street, "postalCode": postal, "city": city}],
        "responsibilities": [{"staffId": rng.choice(staff)["id"], "role": "MANAGER"}],
        "customFields": {}, "appLink": f"{APP_LINK_BASE}/properties/{internal_id}",
    }


def _unit(rng: random.Random, prop: dict, index: int, contacts: list[dict]) -> dict:
    internal_id = prop["internalId"] * 100 + index
    tenant = rng.choice(contacts)
    return {
        "internalId": internal_id, "area": f"{rng.uniform(20, 140):.1f}", "floor": str(rng.randint(0, 6)),
        "rooms": str(rng.randint(1, 5)), "mscNumber": str(index), "address": prop["addresses"][0]["street"],
        "purpose": rng.choice(("APARTMENT", "APARTMENT", "PARKING", "COMMERCIAL")), "votingShare": 5.5,
        "id": f"{prop['id']}-{index:04d}", "number": f"{index:04d}", "propertyMscNumber": prop["mscNumber"],
        "name": f"Einheit {index}", "note": "", "propertyId": prop["id"],
        "contracts": [{"contactId": tenant["id"], "role": "renter", "startDate": "2020-01-01", "endDate": None}],
        "customFields": {}, "appLink": f"{APP_LINK_BASE}/units/{internal_id}",
    }


def _file(file_id: int, name: str, content_type: str, owner: str, created_ms: int) -> FileRecord:
    if content_type == "image/png":
        data = PNG_1X1
    elif content_type == "application/pdf":
        data = f"%PDF-1.4\n% sandbox attachment of {owner}\n%%EOF\n".encode()
    else:
        data = f"Anhang zu {owner}: Zählerstand 12.345 m³, Grüße\n".encode()
    return FileRecord(file_id, name, content_type, data, created_ms)
