"""Delivery of notices: a generic JSON webhook, a Slack-compatible webhook, e-mail over SMTP.

Each send returns an error string or None: a failing channel never stops the others or the scheduler.
Webhooks are retried on connection errors and 429/5xx (twice, short backoff); the scheduler retries a
failed notice on its next ticks.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx

from analytics.alerts.config import ChannelConfig
from analytics.alerts.history import AlertEvent

log = logging.getLogger(__name__)
_RETRY_STATUS = {429, 500, 502, 503, 504}
_ICONS = {"firing": "🔴", "resolved": "✅", "test": "🧪", "report": "📊"}


def payload(event: AlertEvent) -> dict[str, Any]:
    """The generic webhook body (also what `loupe alerts test` shows)."""
    return {
        "event_id": event.event_id, "project": event.project, "rule": event.rule, "kind": event.kind,
        "status": event.status, "severity": event.severity, "title": event.title, "message": event.message,
        "value": event.value, "threshold": event.threshold,
        "window": {"start": event.window_start.isoformat(), "end": event.window_end.isoformat()},
        "link": event.link, "details": event.details, "sent_at": datetime.now(UTC).isoformat(),
    }


def _headline(event: AlertEvent) -> str:
    state = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST", "report": "REPORT"}.get(event.kind, event.kind)
    return f"[{state}] {event.project}/{event.rule}: {event.title}"


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    head = f"{_ICONS.get(event.kind, '')} *{_headline(event)}*".strip()
    text = f"{head}\n{event.message}\n<{event.link}|Open in Loupe>"
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{head}\n{event.message}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"severity {event.severity} · "
                                          f"window {event.window_start:%Y-%m-%d %H:%M}–{event.window_end:%H:%M} UTC"}]},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in Loupe"},
                                          "url": event.link}]},
    ]}


def _post(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> str | None:
    error = None
    for attempt in range(3):
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 300:
                return None
            error = f"HTTP {response.status_code}"
            if response.status_code not in _RETRY_STATUS:
                return error
        time.sleep(0.2 * (attempt + 1))
    return error


def _email(cfg: ChannelConfig, event: AlertEvent, attachment: tuple[str, str] | None) -> str | None:
    msg = EmailMessage()
    msg["Subject"] = f"[Loupe] {_headline(event)}"
    msg["From"] = cfg.from_addr
    msg["To"] = ", ".join(cfg.to)
    msg["Message-ID"] = f"<{event.event_id}@loupe>"
    msg.set_content(f"{_headline(event)}\n\n{event.message}\n\nOpen in Loupe: {event.link}\n"
                    f"Window: {event.window_start:%Y-%m-%d %H:%M} – {event.window_end:%Y-%m-%d %H:%M} UTC\n")
    if attachment:
        name, html = attachment
        msg.add_attachment(html.encode(), maintype="text", subtype="html", filename=name)
    try:
        cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
        with cls(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s) as smtp:
            if cfg.starttls and not cfg.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, os.environ.get(cfg.password_env or "", ""))
            smtp.send_message(msg)
        return None
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"


def send(name: str, cfg: ChannelConfig, event: AlertEvent, attachment: tuple[str, str] | None = None) -> str | None:
    """Deliver one notice on one channel; None when it was accepted."""
    try:
        if cfg.type == "webhook":
            body = payload(event)
            if attachment:
                body["attachment"] = {"filename": attachment[0], "content": attachment[1]}
            return _post(cfg.url or "", body, cfg.headers, cfg.timeout_s)
        if cfg.type == "slack":
            return _post(cfg.url or "", slack_payload(event), cfg.headers, cfg.timeout_s)
        return _email(cfg, event, attachment)
    except Exception as exc:  # the boundary: one channel's bug must not stop the scheduler
        log.exception("channel %s failed", name)
        return f"{type(exc).__name__}: {exc}"


def deliver(channels: dict[str, ChannelConfig], names: list[str], event: AlertEvent,
            attachment: tuple[str, str] | None = None) -> str:
    """Send on every named channel; the delivery summary stored with the event.

    `failed[a,b]: …` names the channels still owed the notice, so a retry skips those that took it.
    """
    if not names:
        return "no channels"
    errors, failed = [], []
    for name in names:
        error = send(name, channels[name], event, attachment) if name in channels else "channel no longer configured"
        if error:
            log.warning("alert %s/%s via %s failed: %s", event.project, event.rule, name, error)
            errors.append(f"{name}: {error}")
            failed.append(name)
    return "sent" if not errors else f"failed[{','.join(failed)}]: " + "; ".join(errors)[:500]


def owed(delivery: str, names: list[str]) -> list[str]:
    """The channels a stored delivery summary says still need the notice."""
    if delivery.startswith("failed[") and "]" in delivery:
        return [n for n in delivery[len("failed["):delivery.index("]")].split(",") if n]
    return list(names) if delivery == "pending" else []
