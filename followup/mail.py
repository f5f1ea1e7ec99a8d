"""Django's SMTP backend, telling apart a send that failed from one that may have gone.

A timeout or a dropped connection before the end of DATA means the peer never took the
message: it is safe to retry. The same error after the message's final ``.`` was
written means the peer may have taken it and only its answer was lost: a retry could
send it twice, so the outbox asks the rep instead (``unknown``). ``smtplib`` does not
say which happened; these classes remember it.
"""

from __future__ import annotations

import smtplib

from django.core.mail.backends.smtp import EmailBackend

END_OF_DATA = b"\r\n.\r\n"  # the last bytes smtplib writes for a message, and nothing else


class _Tracking:
    """Mixed into ``smtplib.SMTP``: ``body_sent`` is True once the message's end went."""

    body_sent = False

    def mail(self, *args, **kwargs):
        self.body_sent = False  # a new message starts
        return super().mail(*args, **kwargs)

    def send(self, s):
        super().send(s)
        if isinstance(s, bytes) and s.endswith(END_OF_DATA):
            self.body_sent = True


class TrackingSMTP(_Tracking, smtplib.SMTP):
    pass


class TrackingSMTPSSL(_Tracking, smtplib.SMTP_SSL):
    pass


class SMTPBackend(EmailBackend):
    """The backend ``EMAIL_URL=smtp://…`` selects."""

    @property
    def connection_class(self):
        return TrackingSMTPSSL if self.use_ssl else TrackingSMTP

    def send_bytes(self, sender: str, recipients: list[str], message: bytes) -> None:
        """Send a message already in its wire form (CRLF line ends), as ``send_messages``
        would after building it: for a sender that builds its messages more cheaply
        than ``EmailMessage.message()``. SMTP errors are raised, never swallowed."""
        if self.connection is None:
            self.open()
        self.connection.sendmail(sender, recipients, message)


def may_have_gone(backend: object) -> bool:
    """After a failed send: did the message's end reach the peer before the failure?"""
    return bool(getattr(getattr(backend, "connection", None), "body_sent", False))
