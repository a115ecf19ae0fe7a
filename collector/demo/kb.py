"""The demo shop's help center (a small knowledge base with a BM25 retriever) and its order system.

Acme Outfitters sells outdoor gear online. The "Plus" membership launched recently and the help
center has only a stub about it, so questions about it retrieve weakly: that is the topic drift the
last week of demo traffic shows.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i if in is it my of on or our the to was we what when "
    "where which will with you your me this that there have has had not any get".split())


def _stem(w: str) -> str:
    # Crude suffix stripping: enough for "refunds"/"refunded"/"refund" to meet in a 20-document index.
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            return w[:-1] if w[-1] == w[-2] and suffix != "s" else w  # "cancelled" meets "cancel"
    return w


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str


DOCS: tuple[Doc, ...] = (
    Doc("kb-returns", "Return policy",
        "Unworn items can be returned within 30 days of delivery. Start a return from the Orders page and print "
        "the prepaid label. Footwear must be returned in the original box."),
    Doc("kb-refund-timing", "When will I get my refund",
        "Refunds are issued to the original payment method within 5 to 7 business days after the warehouse "
        "receives the return. Shipping fees are refunded only for damaged or wrong items."),
    Doc("kb-exchange", "Exchanging a size",
        "Size exchanges are free. Choose Exchange instead of Return on the Orders page and we ship the new size "
        "as soon as the carrier scans your parcel."),
    Doc("kb-shipping-times", "Shipping times",
        "Standard shipping takes 3 to 5 business days and is free on orders over 50 dollars. Express shipping "
        "takes 1 to 2 business days and costs 12 dollars."),
    Doc("kb-international", "International shipping",
        "We ship to Canada, the United Kingdom and the European Union. International delivery takes 7 to 12 "
        "business days; import duties are collected by the carrier on delivery."),
    Doc("kb-tracking", "Tracking an order",
        "A tracking link is emailed when the order ships. The Orders page shows the carrier and the latest scan. "
        "Tracking can take 24 hours to update after the label is created."),
    Doc("kb-cancel", "Cancelling an order",
        "Orders can be cancelled within 1 hour of purchase from the Orders page. After that the order is packed "
        "and must be returned once it arrives."),
    Doc("kb-address", "Changing the delivery address",
        "The delivery address can be changed until the order ships. After shipping, ask the carrier to redirect "
        "the parcel using the tracking link."),
    Doc("kb-damaged", "Damaged or wrong item",
        "If an item arrives damaged or is not what you ordered, send a photo within 14 days and we ship a "
        "replacement at no cost, or refund the item including shipping."),
    Doc("kb-missing", "Missing parcel",
        "If tracking says delivered but the parcel is missing, check with neighbours and wait 48 hours. Then "
        "contact us and we open a carrier claim and send a replacement."),
    Doc("kb-warranty", "Warranty",
        "Tents, backpacks and jackets carry a 2 year warranty against manufacturing defects. Wear and tear and "
        "accidental damage are not covered. Claims need the order number and photos."),
    Doc("kb-password", "Resetting your password",
        "Use Forgot password on the sign-in page; the reset link is valid for 30 minutes. Support agents never "
        "ask for your password."),
    Doc("kb-2fa", "Two-factor authentication",
        "Two-factor authentication can be turned on under Account, Security. If you lose your phone, use one of "
        "the backup codes shown when you turned it on."),
    Doc("kb-payment", "Payment methods",
        "We accept Visa, Mastercard, American Express, PayPal and Acme gift cards. Your card is charged when the "
        "order ships, not when it is placed."),
    Doc("kb-double-charge", "Charged twice",
        "A second charge is usually a pending authorisation that disappears within 3 business days. If both "
        "charges are still there after 3 days, contact us with the order number."),
    Doc("kb-gift-cards", "Gift cards",
        "Gift cards never expire and can be combined with one other payment method. Lost gift cards can be "
        "replaced with the purchase receipt."),
    Doc("kb-price-match", "Price match",
        "We match the price of a lower advertised price from a major retailer within 14 days of purchase, for "
        "the same item in stock. Send a link to the offer."),
    Doc("kb-plus", "Acme Plus",
        "Acme Plus is our new membership. Members get early access to sales."),
)
DOCS_BY_ID = {d.id: d for d in DOCS}


class KnowledgeBase:
    """BM25 over title and text; scores squashed into (0, 1) so a UI can show them as relevance."""

    def __init__(self, docs: tuple[Doc, ...] = DOCS, k1: float = 1.4, b: float = 0.75) -> None:
        self.docs = docs
        self._tf = [Counter(words(f"{d.title} {d.text}")) for d in docs]
        self._len = [sum(tf.values()) for tf in self._tf]
        avg = sum(self._len) / len(self._len)
        df = Counter(w for tf in self._tf for w in tf)
        n = len(docs)
        self._idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self._k1, self._b, self._avg = k1, b, avg

    def search(self, query: str, k: int = 3) -> list[dict[str, Any]]:
        terms = words(query)
        scored = []
        for doc, tf, length in zip(self.docs, self._tf, self._len, strict=True):
            s, norm = 0.0, self._k1 * (1 - self._b + self._b * length / self._avg)
            for t in terms:
                f = tf.get(t, 0)
                if f:
                    s += self._idf[t] * f * (self._k1 + 1) / (f + norm)
            if s > 0:
                scored.append((s, doc))
        scored.sort(key=lambda x: (-x[0], x[1].id))
        return [{"id": d.id, "content": d.text, "score": round(s / (s + 6.0), 3), "metadata": {"title": d.title}}
                for s, d in scored[:k]]


class OrderNotFound(LookupError):
    pass


class NotEligible(ValueError):
    pass


_STATUSES = ("processing", "shipped", "shipped", "delivered", "delivered", "delivered", "cancelled")
_CARRIERS = ("UPS", "DHL", "USPS", "FedEx")


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class Orders:
    """A deterministic order system: an id's hash decides everything; ids ending in 0 do not exist."""

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.today = today  # the demo's backfill runs on a simulated calendar

    def lookup(self, order_id: str) -> dict[str, Any]:
        order_id = order_id.strip().upper()
        if not re.fullmatch(r"A-\d{5}", order_id) or order_id.endswith("0"):
            raise OrderNotFound(f"order {order_id} not found")
        h = _h(order_id)
        status = _STATUSES[h % len(_STATUSES)]
        transit = 3 + (h >> 12) % 4
        age = 1 + h % 3 if status == "processing" else 2 + h % 3 if status == "shipped" else transit + 1 + h % 45
        placed = self.today() - timedelta(days=age)
        order: dict[str, Any] = {"order_id": order_id, "status": status, "placed": placed.isoformat(),
                                 "total_usd": round(20 + (h >> 8) % 300 + ((h >> 16) % 100) / 100, 2),
                                 "items": 1 + (h >> 24) % 3}
        if status in ("shipped", "delivered"):
            order["carrier"] = _CARRIERS[(h >> 4) % len(_CARRIERS)]
            order["tracking"] = f"1Z{h % 10**10:010d}"
            if status == "delivered":
                order["delivered_on"] = (placed + timedelta(days=transit)).isoformat()
            else:
                order["eta"] = (self.today() + timedelta(days=1 + h % 3)).isoformat()
        return order

    def refund(self, order_id: str, reason: str = "") -> dict[str, Any]:
        order = self.lookup(order_id)
        if order["status"] != "delivered":
            raise NotEligible(f"order {order['order_id']} is {order['status']}: only delivered orders can be refunded")
        if date.fromisoformat(order["delivered_on"]) < self.today() - timedelta(days=30):
            raise NotEligible(f"order {order['order_id']} was delivered more than 30 days ago")
        return {"order_id": order["order_id"], "refund_id": f"R-{_h(order_id + reason) % 10**6:06d}",
                "amount_usd": order["total_usd"], "status": "issued", "arrives_in": "5 to 7 business days"}


TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "lookup_order", "description": "Status, carrier and delivery date of an order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "description": "like A-12345"}},
                       "required": ["order_id"]}}},
    {"type": "function", "function": {
        "name": "issue_refund", "description": "Refund a delivered order (within 30 days of delivery)",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
                       "required": ["order_id", "reason"]}}},
]
