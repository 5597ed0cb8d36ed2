"""Every path of casavi's relay API the bridge uses, in one table.

The relay document names operations (GetOrders, PatchOrder, ...) but gives no paths.  These
are the paths the bridge uses and exactly what the relay sandbox serves; if the real service
differs, correct it here.  All paths are relative to the configured base URL (e.g.
``https://relay.example.com/api/v1``), authenticated with ``Authorization: Bearer <api-key>``.

=====================================================  ======================================
operation                                              path
=====================================================  ======================================
GetOrders / GetOrder / PatchOrder                      ``GET /orders``, ``GET, PATCH /orders/{orderId}``
GetOrderComments / CreateOrderComment                  ``GET, POST /orders/{orderId}/comments``
CreateOrderField / CreateContactPerson                 ``POST /order-fields``, ``POST /contact-persons``
CreateAppointment / UpdateAppointment                  ``POST /appointments``, ``PATCH /appointments/{appointmentId}``
GetCustomers / CreateCustomer                          ``GET, POST /customers``
GetProperties / CreateProperties                       ``GET, POST /properties`` (``limit``, ``offset``)
CreateAddress                                          ``POST /addresses``
GetUnits / GetUnitsWithMsc                             ``GET /units``, ``GET /units/msc`` (``limit``, ``offset``)
CreateDocument / AddDocumentAttachment                 ``POST /documents``, ``POST /documents/{documentId}/attachments``
=====================================================  ======================================

Decisions where the document is silent:

- ``GET /orders`` shows no parameters in the document (no paging, no filter), but relay's
  other lists page by ``limit``/``offset``, so either may be true.  The bridge sends
  ``limit=ORDER_PAGE_LIMIT&offset=...`` and reads on until an empty page, a page shorter than
  the longest seen (a server that caps ``limit``) or one longer than asked (a server that
  ignores both and answers every order at once): correct under both readings, and one
  request per poll on an unpaged server with few orders.  The answer is a JSON array of
  complete orders (comments, fields, contact persons embedded); ``{"orders": [...]}`` is
  read too.
- ``limit``/``offset`` are *required* on ``GET /properties``, ``GET /units`` and
  ``GET /units/msc`` (the document marks them so); the bridge always sends both and reads
  pages of :data:`PAGE_LIMIT` until a short page.  Their answers are objects wrapping the
  list (``{"properties": [...]}``, ``{"units": [...]}``), as is ``GET /customers``.
- Order, comment, appointment and document ids are numbers in the document; every id is
  still percent-encoded as one path segment.
- ``CreateOrderComment`` takes ``text``, ``authorName`` and up to :data:`MAX_COMMENT_FILES`
  ``files`` of at most :data:`MAX_COMMENT_BYTES` in total; the client refuses more before
  sending a byte (the server answers 413).  The encoding is not documented: the client sends
  ``multipart/form-data`` (parts named ``files``) first and, when that is refused with 415 or
  400, JSON with ``files`` as ``[{name, contentType, content (base64)}]`` (and the other way
  round), remembering what worked.
- Creates answer either a bare number (the document's example ``0``) or ``{"id": n}``; both
  are read as the new id.
"""

from __future__ import annotations

from urllib.parse import quote

AUTH_HEADER = "Authorization"  # value: "Bearer <api-key>"

ORDER_STATUSES = ("OPEN", "IN_PROGRESS", "FINISHED", "DECLINED", "PREPARE", "NULL")

PAGE_LIMIT = 100  # limit per page for the limit/offset listings (properties, units)
ORDER_PAGE_LIMIT = 100  # limit asked per GET /orders page (the server may answer fewer, or all)
MAX_PAGES = 10_000  # a limit/offset listing longer than this is a server fault
MAX_COMMENT_FILES = 10  # CreateOrderComment: "A maximum of 10 files and 100 MB"
MAX_COMMENT_BYTES = 100 * 1024 * 1024  # summed over the files of one comment

ORDERS = "/orders"  # GET: JSON array of every order (no parameters)
ORDER_FIELDS = "/order-fields"  # POST {name, content, position, orderId}
CONTACT_PERSONS = "/contact-persons"  # POST {name, type, telephone, mobile, email, orderId}
APPOINTMENTS = "/appointments"  # POST {title, description, dateStart, dateEnd, location, customerId}
CUSTOMERS = "/customers"  # GET {customers: [...]}, POST {casaviAccountId, customer}
PROPERTIES = "/properties"  # GET {properties: [...]} (limit, offset), POST {casaviAccountId, properties}
ADDRESSES = "/addresses"  # POST {streetAddress, postalCode, locality, country, additionalInfo}
UNITS = "/units"  # GET {units: [...]} (limit, offset)
UNITS_MSC = "/units/msc"  # GET {units: [...]} (limit, offset): only units with an mscNumber
DOCUMENTS = "/documents"  # POST {title, propertyId|internalPropertyId, customerId|internalCustomerId}


def _seg(value: str | int) -> str:
    return quote(str(value), safe="")


def order(order_id: str | int) -> str:
    """GET one order (embeds comments, fields, contact persons, attachments); PATCH it."""
    return f"{ORDERS}/{_seg(order_id)}"


def order_comments(order_id: str | int) -> str:
    """GET the order's comments (JSON array); POST one (multipart)."""
    return f"{order(order_id)}/comments"


def appointment(appointment_id: str | int) -> str:
    """PATCH one appointment."""
    return f"{APPOINTMENTS}/{_seg(appointment_id)}"


def document_attachments(document_id: str | int) -> str:
    """POST a PDF (base64) to a document."""
    return f"{DOCUMENTS}/{_seg(document_id)}/attachments"
