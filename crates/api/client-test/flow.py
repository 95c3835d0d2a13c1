"""An integrator's first steps, written against the client generated from the api's OpenAPI
document: only its typed functions and models, as an integrator would use them. run.py
generates the package `mailing_api_client` and imports this module once it exists.
"""

import datetime
import traceback
import uuid

from mailing_api_client import AuthenticatedClient
from mailing_api_client import Client as HttpClient
from mailing_api_client.api.access import create_api_key, delete_api_key, list_audit_log
from mailing_api_client.api.auth import login
from mailing_api_client.api.clients import create_client, list_clients
from mailing_api_client.api.mailings import (
    create_mailing,
    get_mailing,
    list_mailings,
    update_mailing,
)
from mailing_api_client.api.operators import create_operator, list_operators
from mailing_api_client.api.statistics import get_mailing_stats, list_mailing_stats
from mailing_api_client.api.tags import create_tag
from mailing_api_client.models import (
    ApiError,
    ApiKeyInput,
    AuditLogPage,
    CreatedApiKey,
    Role,
    SignInMethod,
    Tag,
    TagInput,
    ByStatus,
    Client,
    ClientInput,
    ClientPage,
    FieldError,
    Filter,
    FilterInput,
    Mailing,
    MailingDetailStats,
    MailingInput,
    MailingPage,
    MailingPatchInput,
    MailingStatsPage,
    MailingStatus,
    MailingWarning,
    MailingWarningCode,
    MessagePage,
    MessageStatus,
    Operator,
    OperatorInput,
    SendWindow,
    SendWindowInput,
    TokenRequest,
    TokenResponse,
    TokenType,
)


class Flow:
    """The steps, each a method named `step_…`, run in order; each step uses what the ones
    before it made."""

    def __init__(self, base: str, password: str):
        self.base = base
        self.password = password
        self.anonymous = HttpClient(base_url=base, raise_on_unexpected_status=True)
        self.client: AuthenticatedClient | None = None
        self.mailing: Mailing | None = None

    def step_log_in(self):
        wrong = login.sync_detailed(
            client=self.anonymous, body=TokenRequest(username="admin", password="wrong")
        )
        assert wrong.status_code == 401, wrong
        assert isinstance(wrong.parsed, ApiError), wrong.parsed
        assert wrong.parsed.code == "invalid_credentials", wrong.parsed
        assert wrong.headers["www-authenticate"] == "Bearer"

        response = login.sync_detailed(
            client=self.anonymous, body=TokenRequest(username="admin", password=self.password)
        )
        assert response.status_code == 200, response
        token = response.parsed
        assert isinstance(token, TokenResponse), token
        assert token.token_type == TokenType.BEARER
        assert token.expires_in > 0
        assert response.headers["x-request-id"]
        self.client = AuthenticatedClient(
            base_url=self.base, token=token.access_token, raise_on_unexpected_status=True
        )

    def step_without_a_token_is_refused(self):
        response = list_operators.sync_detailed(client=self.anonymous)
        assert response.status_code == 401, response
        assert isinstance(response.parsed, ApiError), response.parsed
        assert response.parsed.code == "missing_token", response.parsed
        assert response.headers["www-authenticate"] == "Bearer"

    def step_create_an_operator(self):
        response = create_operator.sync_detailed(
            client=self.client, body=OperatorInput(code="mts", name="MTS")
        )
        assert response.status_code == 201, response
        assert isinstance(response.parsed, Operator), response.parsed
        assert (response.parsed.code, response.parsed.name) == ("mts", "MTS")

        again = create_operator.sync_detailed(
            client=self.client, body=OperatorInput(code="mts", name="MTS again")
        )
        assert again.status_code == 409, again
        assert again.parsed.code == "duplicate_operator_code", again.parsed

    def step_create_a_client(self):
        response = create_client.sync_detailed(
            client=self.client,
            body=ClientInput(
                phone_number="79001234567",
                operator_code="mts",
                tags=["vip"],
                time_zone="Europe/Moscow",
            ),
        )
        assert response.status_code == 201, response
        created = response.parsed
        assert isinstance(created, Client), created
        assert created.phone_number == "79001234567"
        assert created.tags == ["vip"] and created.time_zone == "Europe/Moscow"

        listed = list_clients.sync(client=self.client, phone_prefix="7900")
        assert isinstance(listed, ClientPage), listed
        assert [c.id for c in listed.items] == [created.id] and listed.total == 1

    def step_a_bad_client_names_both_fields(self):
        response = create_client.sync_detailed(
            client=self.client,
            body=ClientInput(phone_number="89001234567", operator_code="mts", time_zone="Moscow"),
        )
        assert response.status_code == 422, response
        error = response.parsed
        assert isinstance(error, ApiError), error
        assert error.code == "validation_failed", error
        assert all(isinstance(detail, FieldError) for detail in error.details)
        fields = {detail.field: detail.code for detail in error.details}
        assert fields == {
            "phone_number": "phone_format",
            "time_zone": "unknown_time_zone",
        }, fields

    def step_create_a_mailing(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

        def at(days: int) -> str:
            # RFC 3339; with local_time the offset could be left out.
            return (now + datetime.timedelta(days=days)).isoformat().replace("+00:00", "Z")

        response = create_mailing.sync_detailed(
            client=self.client,
            body=MailingInput(
                text="Winter sale: 20% off everything until Sunday",
                start_at=at(1),
                end_at=at(2),
                filter_=FilterInput(operator_codes=["mts"], tags=["vip"]),
                send_window=SendWindowInput(start="10:00", end="20:00"),
                local_time=True,
            ),
        )
        assert response.status_code == 201, response
        mailing = response.parsed
        assert isinstance(mailing, Mailing), mailing
        assert mailing.status == MailingStatus.SCHEDULED
        assert isinstance(mailing.filter_, Filter)
        assert mailing.filter_.operator_codes == ["mts"]
        assert isinstance(mailing.send_window, SendWindow)
        assert mailing.send_window.start == "10:00"
        assert mailing.cancelled_at is None
        # The client made above matches, so nothing to warn about.
        assert mailing.warnings == [], mailing.warnings
        self.mailing = mailing

        lonely = create_mailing.sync(
            client=self.client,
            body=MailingInput(
                text="Nobody gets this",
                start_at=at(1),
                end_at=at(2),
                filter_=FilterInput(operator_codes=["mts"], tags=["moscow"]),
            ),
        )
        assert isinstance(lonely, ApiError), lonely
        assert {(d.field, d.code) for d in lonely.details} == {("filter.tags[0]", "unknown_tag")}, (
            lonely.details
        )

        # An operator no client has: saved, with a typed warning.
        created = create_operator.sync(
            client=self.client, body=OperatorInput(code="tele2", name="Tele2")
        )
        assert isinstance(created, Operator), created
        unmatched = create_mailing.sync(
            client=self.client,
            body=MailingInput(
                text="Nobody gets this either",
                start_at=at(1),
                end_at=at(2),
                filter_=FilterInput(operator_codes=["tele2"]),
            ),
        )
        assert isinstance(unmatched, Mailing), unmatched
        assert [(type(w), w.code) for w in unmatched.warnings] == [
            (MailingWarning, MailingWarningCode.NO_MATCHING_CLIENTS)
        ], unmatched.warnings

    def step_read_change_and_list_mailings(self):
        got = get_mailing.sync(id=self.mailing.id, client=self.client)
        assert isinstance(got, Mailing) and got.to_dict() == self.mailing.to_dict(), got

        patched = update_mailing.sync(
            id=self.mailing.id,
            client=self.client,
            body=MailingPatchInput(text="Winter sale: 30% off everything until Sunday"),
        )
        assert isinstance(patched, Mailing), patched
        assert patched.text.startswith("Winter sale: 30%")
        assert patched.send_window.end == "20:00", "a field left out keeps its value"

        page = list_mailings.sync(client=self.client)
        assert isinstance(page, MailingPage), page
        assert {type(item) for item in page.items} == {Mailing}
        assert self.mailing.id in [item.id for item in page.items]
        assert all(item.warnings is None for item in page.items), "lists carry no warnings"

        missing = get_mailing.sync_detailed(id=self.mailing.id + 1000, client=self.client)
        assert missing.status_code == 404, missing
        assert missing.parsed.code == "not_found", missing.parsed

    def step_read_its_statistics(self):
        stats = get_mailing_stats.sync(
            id=self.mailing.id, client=self.client, status=MessageStatus.SCHEDULED
        )
        assert isinstance(stats, MailingDetailStats), stats
        # One Mailing class, whether a mailing comes alone or inside its statistics.
        assert isinstance(stats.mailing, Mailing)
        assert stats.mailing.id == self.mailing.id
        assert isinstance(stats.by_status, ByStatus)
        assert stats.total == sum(getattr(stats.by_status, s.value) for s in MessageStatus)
        assert isinstance(stats.messages, MessagePage)

        every = list_mailing_stats.sync(client=self.client)
        assert isinstance(every, MailingStatsPage), every
        assert {type(item.mailing) for item in every.items} == {Mailing}
        assert isinstance(every.by_status, ByStatus)

    def step_retry_a_write_with_its_key(self):
        key = str(uuid.uuid4())
        body = OperatorInput(code="beeline", name="Beeline")
        first = create_operator.sync_detailed(client=self.client, body=body, idempotency_key=key)
        assert first.status_code == 201, first
        assert "idempotent-replayed" not in first.headers
        again = create_operator.sync_detailed(client=self.client, body=body, idempotency_key=key)
        assert again.status_code == 201, again
        assert again.headers["idempotent-replayed"] == "true"
        assert isinstance(again.parsed, Operator)
        assert again.parsed.to_dict() == first.parsed.to_dict(), "the first answer, again"

        other = create_operator.sync_detailed(
            client=self.client,
            body=OperatorInput(code="beeline", name="Beeline Russia"),
            idempotency_key=key,
        )
        assert other.status_code == 422, other
        assert isinstance(other.parsed, ApiError), other.parsed
        assert other.parsed.code == "idempotency_key_reused", other.parsed

    def step_an_api_key_works_until_it_is_revoked(self):
        response = create_api_key.sync_detailed(
            client=self.client, body=ApiKeyInput(name="crm-sync", role=Role.MANAGER)
        )
        assert response.status_code == 201, response
        created = response.parsed
        assert isinstance(created, CreatedApiKey), created
        assert created.key.startswith(created.prefix) and created.role == Role.MANAGER
        integration = AuthenticatedClient(
            base_url=self.base, token=created.key, raise_on_unexpected_status=True
        )
        tag = create_tag.sync_detailed(client=integration, body=TagInput(value="from-crm"))
        assert tag.status_code == 201 and isinstance(tag.parsed, Tag), tag

        log = list_audit_log.sync(client=self.client, actor="crm-sync")
        assert isinstance(log, AuditLogPage), log
        entry = log.items[0]
        assert (entry.action, entry.resource, entry.resource_id) == (
            "create",
            "tags",
            str(tag.parsed.id),
        ), entry
        assert entry.actor.signed_in_with == SignInMethod.API_KEY, entry.actor

        revoked = delete_api_key.sync_detailed(client=self.client, id=created.id)
        assert revoked.status_code == 204, revoked
        refused = create_tag.sync_detailed(client=integration, body=TagInput(value="late"))
        assert refused.status_code == 401, refused
        assert refused.parsed.code == "invalid_api_key", refused.parsed


def run(base: str, password: str, name: str) -> tuple[int, int]:
    """Runs the steps until one fails; (passed, failed)."""
    flow = Flow(base, password)
    passed = failed = 0
    for step in [n for n in Flow.__dict__ if n.startswith("step_")]:
        try:
            getattr(flow, step)()
            print(f"{name}: {step[5:]}: ok", flush=True)
            passed += 1
        except Exception:  # every failure is reported, then the flow stops
            print(f"{name}: {step[5:]}: FAILED", flush=True)
            traceback.print_exc()
            failed += 1
            break
    return passed, failed
