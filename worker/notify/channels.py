"""The delivery channels: an outgoing webhook (Slack-compatible JSON) and e-mail over SMTP.

Each ``send`` raises :class:`DeliveryFailed` with a message that never carries a secret: the webhook
URL (its path is the token, on Slack) and the SMTP password are never put in an error, a log line or
the ledger. Each message carries the notification's key (``Idempotency-Key`` header, ``Message-ID``) so
a receiver can recognise the one redelivery a crash between "sent" and "recorded" can cause.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

from worker.settings import Settings


class DeliveryFailed(Exception):
    """The channel did not take the message; the text is safe to log and store."""


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    key: str  # stable per delivery: dropsync-notification-<id>, then -<previous send> once reopened


def send_webhook(settings: Settings, message: Message) -> None:
    """POST ``{"text": …}`` (Slack incoming-webhook format); anything but 2xx is a failure."""
    url = settings.notify_webhook_url
    if not url:
        raise DeliveryFailed("webhook: DROPSYNC_NOTIFY_WEBHOOK_URL is not set")
    body = {"text": f"*{message.subject}*\n{message.text}"}
    headers = {"Idempotency-Key": message.key, "User-Agent": "dropsync-notify"}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=settings.notify_timeout_seconds)
    except httpx.HTTPError as exc:
        # str(exc) can quote the URL, whose path is the secret: name the failure only.
        raise DeliveryFailed(f"webhook: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook: HTTP {response.status_code}")


def send_email(settings: Settings, message: Message) -> None:
    """One e-mail to every ``DROPSYNC_NOTIFY_EMAIL_TO`` address (STARTTLS by default)."""
    recipients = [a.strip() for a in (settings.notify_email_to or "").split(",") if a.strip()]
    if not settings.smtp_host or not recipients:
        raise DeliveryFailed("email: DROPSYNC_SMTP_HOST and DROPSYNC_NOTIFY_EMAIL_TO are required")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.notify_email_from
    mail["To"] = ", ".join(recipients)
    mail["Message-ID"] = f"<{message.key}@dropsync>"
    mail.set_content(message.text)
    try:
        with _connect(settings) as smtp:
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(mail)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"email: SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"email: {type(exc).__name__}") from None


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.notify_timeout_seconds
    if settings.smtp_security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.smtp_security == "starttls":
        smtp.starttls(context=ssl.create_default_context())
    return smtp


SENDERS = {"webhook": send_webhook, "email": send_email}
