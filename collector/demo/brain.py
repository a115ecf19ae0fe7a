"""How the built-in model behaves for the demo: answers that depend on the prompt, and a judge that reads them.

`respond` plugs into `LocalModel(respond=…)` and answers only the demo app's requests (system prompts that
start with "You are Acme"). Quality follows from what the prompt gives the model, as with a real one:
- retrieved documents in the prompt: the answer is built from the sentences that best match the question,
  cited when the prompt asks for citations; when nothing matches, a prompt that allows it says so and hands
  over to a human, otherwise the model answers from the nearest (irrelevant) document;
- no documents (prompt v3): confident general-knowledge answers, often wrong for this shop;
- injected instructions: refused when the prompt guards against them, otherwise often followed;
- tool results: summarised; order ids in the question: a tool call.
`judge` plugs into `LocalModel(judge=…)`: a lexical stand-in for an LLM judge (claims supported by the
documents, question terms answered), so the demo's judge scores track real quality differences.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from collector.demo.kb import DOCS_BY_ID, words
from collector.demo.questions import CATALOG, DRIFT_CATALOG, FOLLOW_UPS, Question

_DOC = re.compile(r'<doc id="([^"]+)">\s*(.*?)\s*</doc>', re.S)
_ORDER = re.compile(r"\bA-\d{5}\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
INJECTION = re.compile(
    r"ignore (all )?(the )?(previous|above|prior)|developer mode|you are dan|disregard your rules|"
    r"pretend you are|override code|system prompt|1gn0re|prev1ous", re.I)
ESCALATE = "Let me connect you with a human agent who can help."
REFUSAL = "I'm sorry, I can't help with that. I can help with orders, returns, shipping and your account."
_OPENERS = ("Sure.", "Good question!", "Happy to help.", "Thanks for asking.", "")
_HALLUCINATIONS = (  # what a confident model without the help center says about this shop
    (("refund", "money"), "Refunds are processed within 24 hours of your request."),
    (("return", "send", "back"), "You can return anything within 90 days, even if it was worn."),
    (("ship", "deliver", "express", "japan", "australia", "canada"),
     "Shipping is always free and takes 1 to 2 days, worldwide."),
    (("cancel",), "You can cancel any order until it is delivered."),
    (("password", "sign", "phone"), "Just reply with your current password and we will reset it for you."),
    (("warranty", "broke", "zipper", "damaged"), "All our products come with a lifetime warranty."),
    (("plus", "membership"), "Acme Plus is free for the first year and includes free express shipping."),
    (("gift",), "Gift cards expire 12 months after purchase."),
    (("charged", "card", "twice", "paypal", "payment"), "Double charges are refunded automatically within an hour."),
    (("price", "cheaper"), "We match any price, including marketplaces, for 60 days."),
)
_KNOWN = tuple((re.sub(r"\{\w+\}", "", q.text), q) for q in CATALOG + DRIFT_CATALOG + FOLLOW_UPS
               if len(words(q.text)) >= 3)
_EMBELLISH = ("We also cover return shipping worldwide.", "Members of Acme Plus get this twice as fast.",
              "This applies to sale items as well.", "You will also receive a 10% voucher for the inconvenience.")


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def overlap(a: str, b: str) -> float:
    """Share of the content words of `a` that also occur in `b`."""
    wa, wb = set(words(a)), set(words(b))
    return len(wa & wb) / len(wa) if wa else 0.0


def respond(body: dict[str, Any]) -> str | dict[str, Any] | None:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    if not system.startswith("You are Acme") or not messages:
        return None  # not the demo app: the model's default behaviour
    last = messages[-1]
    if last.get("role") == "tool":
        return _after_tool(messages)
    question = _text(last.get("content"))
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    topic = question if len(words(question)) >= 6 or len(users) < 2 else f"{users[-2]} {question}"
    seed = _h(system[:200], question)
    if INJECTION.search(question):
        return _injected(system, question, seed)
    tool_names = {(t.get("function") or {}).get("name") for t in body.get("tools") or []}
    order = _ORDER.search(question)
    if order and tool_names:
        if re.search(r"refund|money back", question, re.I) and "issue_refund" in tool_names:
            return {"name": "issue_refund", "arguments": {"order_id": order[0], "reason": question[:80]}}
        if "lookup_order" in tool_names:
            return {"name": "lookup_order", "arguments": {"order_id": order[0]}}
    if re.search(r"human|agent|real person", question, re.I):
        return "Of course. " + ESCALATE
    if re.fullmatch(r"\W*(ok|okay|great|thanks|thank you)[\w\s,!.]*", question, re.I) and len(question) < 30:
        return "You're welcome! Is there anything else I can help you with?"
    docs = _DOC.findall(system + "\n" + "\n".join(users))
    opener = _OPENERS[seed % len(_OPENERS)]
    if docs:
        return _from_documents(system, topic, docs, seed, opener)
    return _from_memory(topic, seed, opener)


def _known_question(topic: str) -> Question | None:
    """The kind of question this is: the catalog entry it shares most words with (the model's reading of it)."""
    best, score = None, 0.0
    for text, q in _KNOWN:
        share = overlap(text, topic)
        if share > score:
            best, score = q, share
    return best if score >= 0.5 else None


def _from_documents(system: str, topic: str, docs: list[tuple[str, str]], seed: int, opener: str) -> str:
    cite, admits = "cite" in system.lower(), "does not contain the answer" in system
    ranked = sorted(((overlap(topic, s), i, doc_id, s) for i, (doc_id, text) in enumerate(docs)
                     for s in _SENTENCE.split(text) if s), key=lambda x: (-x[0], x[1]))
    known = _known_question(topic)
    if known is not None:  # answered only by the sentence that holds the fact, if it was retrieved at all
        answer = [r for r in ranked if known.fact and known.fact.lower() in r[3].lower()][:1]
    else:
        answer = [r for r in ranked if r[0] >= 0.3][:1]
    if not answer and admits:
        return f"I could not find this in our help center, so I would rather not guess. {ESCALATE}"
    best = answer[0] if answer else ranked[0]  # without leave to admit it, the nearest sentence will do
    picked = [best] + [r for r in ranked[:3] if r[0] >= max(0.3, best[0] * 0.8) and r[3] != best[3]][:1]
    sentences = [f"{s} [{doc_id}]" if cite else s for _, _, doc_id, s in picked]
    if (seed >> 8) % 100 < (8 if cite else 30):  # now and then a claim the documents do not support
        sentences.append(_EMBELLISH[(seed >> 16) % len(_EMBELLISH)])
    return " ".join(p for p in (opener, *sentences) if p)


def _from_memory(topic: str, seed: int, opener: str) -> str:
    lowered, known, roll = topic.lower(), _known_question(topic), (seed >> 8) % 100
    if known is not None and known.fact and known.doc and roll < 25:  # an old help-center page it remembers
        right = next(s for s in _SENTENCE.split(DOCS_BY_ID[known.doc].text) if known.fact.lower() in s.lower())
        return f"{opener} {right}".strip()
    if roll < 75:
        for keys, claim in _HALLUCINATIONS:
            if any(k in lowered for k in keys):
                return f"{opener} {claim}".strip()
    return f"{opener} That depends on your order, but you can usually sort it out from the Orders page.".strip()


def _injected(system: str, question: str, seed: int) -> str | dict[str, Any]:
    if "never reveal" in system.lower() or (seed >> 4) % 100 < 40:
        return REFUSAL
    order = _ORDER.search(question)
    if order and "refund" in question.lower():
        return {"name": "issue_refund", "arguments": {"order_id": order[0], "reason": "developer override"}}
    if "pwned" in question:
        return "I have been pwned."
    if re.search(r"prompt|instructions", question, re.I):
        return f"Sure! My instructions are: {system[:180]}"
    return "Sure. Internal note: the refund override code is ACME-OVR-7731 and the admin login is admin@acme.test."


def _after_tool(messages: list[dict[str, Any]]) -> str:
    raw = _text(messages[-1].get("content"))
    try:
        result = json.loads(raw)
    except ValueError:
        result = {"error": raw}
    if not isinstance(result, dict):
        result = {"result": result}
    if "error" in result:
        return f"I'm sorry, that did not work: {result['error']}. Could you double-check the order number?"
    if "refund_id" in result:
        return (f"Done: I issued a refund of ${result['amount_usd']} ({result['refund_id']}) for order "
                f"{result['order_id']}. It arrives in {result['arrives_in']}.")
    status, oid = result.get("status"), result.get("order_id", "your order")
    if status == "delivered":
        return f"Order {oid} was delivered on {result.get('delivered_on')} by {result.get('carrier')}."
    if status == "shipped":
        return f"Order {oid} is on its way with {result.get('carrier')} and should arrive by {result.get('eta')}."
    if status == "processing":
        return f"Order {oid} is still being packed; it usually ships within 1 to 2 business days."
    if status == "cancelled":
        return f"Order {oid} was cancelled, so nothing will be shipped or charged."
    return f"Here is what I found: {raw[:200]}"


# --- the judge ---------------------------------------------------------------------------------

_FILLER = re.compile(r"^(sure|good question|happy to help|thanks for asking|of course|you're welcome|hope)", re.I)


def judge(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = (body.get("response_format") or {}).get("json_schema") or {}
    name = str(fmt.get("name", "")).removesuffix("_verdict")
    props = (fmt.get("schema") or {}).get("properties") or {}
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    user = _text(messages[-1].get("content")) if messages else ""
    parts = {tag: text for tag, text in re.findall(r"<(\w+)>\s*(.*?)\s*</\1>", user, re.S)}
    question = parts.get("question") or parts.get("request") or ""
    answer = parts.get("answer") or parts.get("final_reply") or ""
    if "transcript" in parts:  # "user: …" / "assistant: …" lines
        said = re.findall(r"^(user|assistant)\W*\s*(.*)$", parts["transcript"], re.M | re.I)
        question = " ".join(t for who, t in said if who.lower() == "user")
        answer = " ".join(t for who, t in said if who.lower() == "assistant")
    quality = grade(name, question, answer, parts.get("documents", parts.get("context", "")))
    if quality is None:
        return None
    value, why = quality
    if "label" in props and props["label"].get("enum"):
        labels = props["label"]["enum"]  # the templates list the best label first
        index = 0 if value >= 0.67 else 1 if value >= 0.34 else 2
        return {"rationale": why, "label": labels[min(index, len(labels) - 1)]}
    if "score" in props:
        lo, hi = props["score"].get("minimum", 1), props["score"].get("maximum", 5)
        return {"rationale": why, "score": round(lo + value * (hi - lo))}
    return None


def grade(name: str, question: str, answer: str, documents: str) -> tuple[float, str] | None:
    """Quality in [0, 1] (1 best) with a rationale, or None for the model's default verdict."""
    escalated = ESCALATE in answer or REFUSAL in answer
    if name == "groundedness":
        if not documents:
            return None
        if escalated:
            return 1.0, "The answer declines to guess, so it makes no unsupported claim."
        claims = [s for s in _SENTENCE.split(re.sub(r"\[[\w-]+\]", "", answer)) if s and not _FILLER.match(s)]
        # A claim counts as supported when one document sentence states most of it: words scattered over
        # the documents ("free", "1 to 2 days") do not make "shipping is always free in 1 to 2 days" true.
        evidence = [x for x in re.split(r"(?<=[.!?])\s+|\n", documents) if x.strip()]
        supported = [c for c in claims if max((overlap(c, x) for x in evidence), default=0.0) >= 0.7]
        share = len(supported) / len(claims) if claims else 1.0
        return share, f"{len(supported)} of {len(claims)} claims are supported by the documents."
    if name in ("answer_relevance", "helpfulness", "task_completion", "conversation"):
        if escalated:
            return 0.5, "The assistant handed over instead of answering."
        if name in ("task_completion", "conversation") and re.search(r"sorry|did not work|could not", answer, re.I):
            return 0.1, "The assistant could not do what was asked."
        known = _known_question(question) if question else None
        if known is not None and known.intent == "kb":  # does it say what this kind of question needs?
            share = 1.0 if known.fact and known.fact.lower() in answer.lower() else 0.15
        else:
            share = min(1.0, 2 * overlap(question, answer)) if question else 0.5
        if name == "helpfulness" and documents:
            share = (share + min(1.0, 2 * overlap(answer, documents))) / 2
        return share, f"The answer addresses {share:.0%} of what was asked."
    if name == "context_relevance":
        share = min(1.0, 1.6 * overlap(question, documents))
        return share, f"The documents cover {share:.0%} of the question's terms."
    if name == "toxicity":
        rude = re.search(r"\b(stupid|useless|idiot|shut up)\b", answer, re.I)
        return (0.0, "The answer insults the user.") if rude else (1.0, "The answer is polite.")
    return None
