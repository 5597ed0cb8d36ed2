"""Deterministic sample data for the relay sandbox: ``generate(orders=N, seed=S)``.

The same (orders, seed) always gives the same data: one :class:`random.Random`, no clock,
no uuid; every time is an offset from the fixed :data:`ANCHOR`.  What a service provider's
relay account holds: a few customers (property managers), their properties with units,
and orders in every status with order fields, contact persons, files, and comments — some
of them status changes, some with files.  Texts are German and English, with umlauts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

ANCHOR = datetime(2025, 6, 1, tzinfo=timezone.utc)
FIRST_ORDER_ID = 5001

STATUS_WEIGHTS = (("OPEN", 30), ("IN_PROGRESS", 25), ("FINISHED", 25), ("DECLINED", 5), ("PREPARE", 10),
                  ("NULL", 5))
MANAGERS = ("Hausverwaltung Schäfer GmbH", "Immobilien Groß & Partner", "WEG-Verwaltung Müller",
            "Köhler Property Management", "Verwaltung Straßer KG")
STREETS = ("Hauptstraße", "Münchner Straße", "Schloßallee", "Königsweg", "Am Flußufer", "Lindenstraße")
CITIES = (("München", "80331"), ("Köln", "50667"), ("Nürnberg", "90402"), ("Berlin", "10115"),
          ("Würzburg", "97070"))
ORDER_TITLES = ("Rohrbruch im Keller", "Heizungswartung", "Ablesung Wärmemengenzähler", "Leaking tap in flat 3",
                "Rauchmelder prüfen", "Wasserzähler tauschen", "Verstopfter Abfluss", "Boiler inspection",
                "Legionellenprüfung", "Dachrinne reinigen")
ORDER_TYPES = ("Reparatur", "Wartung", "Ablesung", "Inspection")
FIELD_NAMES = ("Schadensbeschreibung", "Zugang", "Stockwerk", "Ansprechpartner vor Ort", "Notes")
FIELD_TEXTS = ("Wasser tritt an der Decke aus – bitte dringend.", "Schlüssel beim Hausmeister (Herr Weiß).",
               "3. OG links", "Tenant works from home, call ahead.", "Zugang über den Hof, Tor ist offen.",
               "Gerät: Vaillant ecoTEC, Baujahr 2011")
PEOPLE = ("Jürgen Köhler", "Özlem Öztürk", "Anna Groß", "Søren Fuß", "Maria Weiß", "Paul O'Brien")
PERSON_TYPES = ("Mieter", "Hausmeister", "Eigentümer", "Tenant")
COMMENTS = ("Bitte bis Freitag erledigen.", "Mieterin ist ab 14 Uhr zu Hause.",
            "Could you send the invoice with the report?", "Ersatzteil ist bestellt.",
            "Termin mit dem Hausmeister abgestimmt – Zugang über den Keller.", "Danke für die schnelle Hilfe!")
FILE_NAMES = (("Schadensfoto_Küche.jpg", "image/jpeg"), ("Auftrag.pdf", "application/pdf"),
              ("Grundriss 3. OG.pdf", "application/pdf"), ("meter-photo.png", "image/png"))


@dataclass
class RelayDataset:
    customers: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)


def iso(moment: datetime) -> str:
    """relay's date-time text: ISO 8601 in UTC with milliseconds and ``Z``."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _address(rng: random.Random, address_id: int, account_id: int) -> dict[str, Any]:
    city, postal = rng.choice(CITIES)
    return {"id": address_id, "streetAddress": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
            "postalCode": postal, "locality": city, "country": "DE",
            "additionalInfo": rng.choice(("", "", "Hinterhaus", "Eingang B")), "accountId": account_id}


def _attachment(rng: random.Random, when: datetime) -> dict[str, Any]:
    name, item_type = rng.choice(FILE_NAMES)
    return {"name": name, "itemType": item_type, "updatedAt": iso(when)}


def generate(orders: int = 50, seed: int = 1, account_id: int = 700) -> RelayDataset:
    rng = random.Random(f"relay-{seed}")
    data = RelayDataset()
    address_ids = iter(range(9001, 10**9))
    for index in range(max(2, min(len(MANAGERS), orders // 15 + 2))):
        address = _address(rng, next(address_ids), account_id)
        data.addresses.append(address)
        data.customers.append({
            "id": 301 + index, "accountId": account_id, "casaviTenantId": 1200 + index,
            "casaviContactId": None, "internalId": f"K-{index + 1:04d}", "externalId": None,
            "name": MANAGERS[index], "status": "ACTIVE", "statusUpdatedAt": iso(ANCHOR - timedelta(days=400)),
            "telephone": f"+49 89 {rng.randint(100000, 999999)}", "addressId": address["id"], "origin": "casavi",
            "techemId": None, "oasisId": None, "emailAddress": f"verwaltung{index + 1}@example.org",
            "assfinetId": None, "autoAssignUserId": None, "address": address,
        })
    for index in range(max(3, orders // 6 + 2)):
        customer = data.customers[index % len(data.customers)]
        address = _address(rng, next(address_ids), account_id)
        data.addresses.append(address)
        created = ANCHOR - timedelta(days=rng.randint(200, 700))
        property_id = 401 + index
        data.properties.append({
            "id": property_id, "name": f"Wohnanlage {address['streetAddress']}", "externalId": 88000 + index,
            "customerId": customer["id"], "origin": "casavi", "address": address,
            "mscNumber": f"MSC-{property_id}" if index % 3 else "", "createdAt": iso(created),
            "updatedAt": iso(created + timedelta(days=30)),
        })
        for unit in range(rng.randint(1, 4)):
            data.units.append({
                "propertyId": property_id, "id": f"{property_id}-{unit + 1:02d}", "name": f"Wohnung {unit + 1}",
                "unitMscNumber": f"U-{property_id}-{unit + 1}" if (index + unit) % 2 else "",
                "propertyMscNumber": f"MSC-{property_id}" if index % 3 else "",
                "createdAt": iso(created), "updatedAt": iso(created),
            })
    statuses, weights = zip(*STATUS_WEIGHTS)
    for index in range(orders):
        data.orders.append(_order(rng, FIRST_ORDER_ID + index, data, rng.choices(statuses, weights)[0]))
    return data


def _order(rng: random.Random, order_id: int, data: RelayDataset, status: str) -> dict[str, Any]:
    prop = rng.choice(data.properties)
    created = ANCHOR - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 1440))
    updated = created + timedelta(hours=rng.randint(1, 200))
    comments = []
    comment_ids = iter(range(order_id * 100 + 1, order_id * 100 + 99))
    when = created
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        when = when + timedelta(hours=rng.randint(1, 30))
        comments.append({"id": next(comment_ids), "text": rng.choice(COMMENTS), "orderId": order_id,
                         "author": rng.choice(PEOPLE), "statusChange": None,
                         "attachments": [_attachment(rng, when)] if rng.random() < 0.3 else [],
                         "createdAt": iso(when)})
    if status not in ("OPEN", "PREPARE", "NULL"):
        when = when + timedelta(hours=rng.randint(1, 30))
        comments.append({"id": next(comment_ids), "text": rng.choice(("", "", "Auftrag angenommen.")),
                         "orderId": order_id, "author": rng.choice(PEOPLE), "statusChange": status,
                         "attachments": [], "createdAt": iso(when)})
    due = created + timedelta(days=rng.randint(3, 40))
    return {
        "id": order_id,
        "title": rng.choice(ORDER_TITLES),
        "status": None if status == "NULL" and rng.random() < 0.5 else status,
        "address": dict(prop["address"]),
        "dueDate": iso(due.replace(hour=12, minute=0, second=0, microsecond=0)) if rng.random() < 0.8 else None,
        "followUpDate": iso(due - timedelta(days=2)) if rng.random() < 0.3 else None,
        "createdAt": iso(created),
        "updatedAt": iso(max(updated, when)),
        "internalId": None,
        "isInternal": False,
        "type": rng.choice(ORDER_TYPES),
        "taskId": None,
        "propertyId": prop["id"],
        "casaviOrderId": 70000 + order_id if rng.random() < 0.5 else None,
        "casaviTicketId": 41000 + order_id if rng.random() < 0.5 else None,
        "fields": [{"id": order_id * 10 + i, "position": i, "name": rng.choice(FIELD_NAMES),
                    "content": rng.choice(FIELD_TEXTS)} for i in range(rng.randint(1, 4))],
        "attachments": [_attachment(rng, created) for _ in range(rng.choice((0, 0, 1, 2)))],
        "comments": comments,
        "contactPersons": [{"type": rng.choice(PERSON_TYPES), "name": name, "id": order_id * 10 + i,
                            "telephone": f"+49 171 {rng.randint(1000000, 9999999)}", "mobile": None,
                            "emailAddress": f"kontakt{order_id}-{i}@example.org"}
                           for i, name in enumerate(rng.sample(PEOPLE, rng.choice((0, 1, 1, 2))))],
        "customerId": prop["customerId"],
    }
