"""Password-reset emails are limited per email address and per client address, without telling anyone which."""

from django.core import mail
from django.test import Client
from django.urls import reverse

RESET_URL = reverse("password_reset")


def _ask(client: Client, email: str):
    response = client.post(RESET_URL, {"email": email})
    assert (response.status_code, response["Location"]) == (302, reverse("password_reset_done"))
    return response


def test_it_sends_no_more_reset_emails_for_one_address_than_the_limit_and_answers_the_same(client, owner, settings):
    assert settings.PASSWORD_RESET_EMAILS_PER_ADDRESS == 3
    answers = [_ask(Client(REMOTE_ADDR=f"198.51.100.{n}"), owner.email) for n in range(5)]

    assert len(mail.outbox) == 3
    assert all(message.to == [owner.email] for message in mail.outbox)
    assert {(a.status_code, a["Location"], a.content) for a in answers} == {(302, reverse("password_reset_done"), b"")}


def test_the_address_limit_ignores_letter_case(client, owner):
    for email in ("alice@example.com", "ALICE@example.com", "Alice@Example.com", "alice@EXAMPLE.com"):
        _ask(client, email)

    assert len(mail.outbox) == 3


def test_one_client_address_asking_for_many_addresses_is_limited(owner, member, settings):
    settings.PASSWORD_RESET_REQUESTS_PER_IP = 4
    client = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(3):
        _ask(client, f"nobody{n}@example.com")
    _ask(client, owner.email)

    _ask(client, member.email)

    assert [message.to for message in mail.outbox] == [[owner.email]]
    _ask(Client(REMOTE_ADDR="203.0.113.9"), member.email)
    assert [message.to for message in mail.outbox] == [[owner.email], [member.email]]


def test_the_answer_is_the_same_for_known_and_unknown_addresses_throttled_or_not(owner):
    def answers(email: str) -> set:
        client = Client(REMOTE_ADDR="198.51.100.7")
        return {(r.status_code, r["Location"], r.content) for r in (client.post(RESET_URL, {"email": email}) for _ in range(5))}

    assert answers(owner.email) == answers("nobody@example.com") == {(302, reverse("password_reset_done"), b"")}
    assert len(mail.outbox) == 3


def test_the_limit_lifts_when_its_window_has_passed(client, owner, settings, monkeypatch):
    for _ in range(4):
        _ask(client, owner.email)
    assert len(mail.outbox) == 3

    later = 1_000_000_000.0 + settings.PASSWORD_RESET_THROTTLE_SECONDS * 10
    monkeypatch.setattr("accounts.login_throttle.time.time", lambda: later)
    _ask(client, owner.email)

    assert len(mail.outbox) == 4
