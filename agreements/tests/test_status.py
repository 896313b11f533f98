"""Agreement status in one place: the transition table, ``set_status()`` and nothing else."""

import ast
import datetime as dt
from pathlib import Path

import pytest
from django.apps import apps

from agreements import lifecycle
from agreements.models import Agreement, StatusTransitionError
from agreements.tests.factories import AgreementFactory, agreement_for_2027
from billing.tests.factories import published_card

Status = Agreement.Status
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def rates(db):
    return published_card(effective_date=dt.date(2026, 1, 1))


@pytest.mark.parametrize(
    "start, allowed",
    [
        (Status.DRAFT, {Status.SENT}),
        (Status.SENT, {Status.DRAFT, Status.CUSTOMER_SIGNED}),
        (Status.CUSTOMER_SIGNED, {Status.ACTIVE}),
        (Status.ACTIVE, {Status.ENDING, Status.ENDED, Status.TERMINATED}),
        (Status.ENDING, {Status.ACTIVE, Status.ENDED, Status.TERMINATED}),
        (Status.ENDED, set()),
        (Status.TERMINATED, set()),
    ],
)
def test_set_status_follows_the_transition_table_and_refuses_the_rest(start, allowed):
    for target in Status:
        agreement = AgreementFactory(status=start)
        if target in allowed or target == start:
            agreement.set_status(target)
            agreement.refresh_from_db()
            assert agreement.status == target
        else:
            with pytest.raises(StatusTransitionError, match="cannot go from"):
                agreement.set_status(target)
            agreement.refresh_from_db()
            assert agreement.status == start


def test_set_status_checks_the_stored_status_not_a_stale_copy():
    agreement = AgreementFactory(status=Status.ACTIVE)
    stale = Agreement.objects.get(pk=agreement.pk)
    agreement.set_status(Status.TERMINATED)
    with pytest.raises(StatusTransitionError, match="Terminated early"):
        stale.set_status(Status.ENDING)  # another worker terminated it meanwhile
    assert Agreement.objects.get(pk=agreement.pk).status == Status.TERMINATED


def test_saving_a_changed_status_is_refused_while_other_fields_still_save():
    agreement = AgreementFactory(status=Status.ACTIVE)
    agreement = Agreement.objects.get(pk=agreement.pk)
    agreement.time_zone = "America/Chicago"
    agreement.save()
    agreement.status = Status.DRAFT
    with pytest.raises(StatusTransitionError, match="only through set_status"):
        agreement.save()
    assert Agreement.objects.get(pk=agreement.pk).status == Status.ACTIVE


def test_the_lifecycle_moves_the_status_through_the_table(customer_a, alice, admin):
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    assert agreement.status == Status.ACTIVE
    request = lifecycle.file_termination_request(
        agreement,
        by=alice,
        received_at=dt.datetime(2027, 6, 1, 15, tzinfo=dt.UTC),
        reason="Moving",
        typed_name="Alice Moore",
        channel="portal",
        now=dt.datetime(2027, 6, 1, 15, tzinfo=dt.UTC),
    )
    agreement.refresh_from_db()
    assert agreement.status == Status.ENDING
    lifecycle.withdraw_termination_request(
        request, by=alice, now=dt.datetime(2027, 6, 2, 15, tzinfo=dt.UTC)
    )
    agreement.refresh_from_db()
    assert agreement.status == Status.ACTIVE
    lifecycle.terminate_early(agreement, by=admin, today=dt.date(2027, 6, 3))
    agreement.refresh_from_db()
    assert agreement.status == Status.TERMINATED
    with pytest.raises(StatusTransitionError):
        agreement.set_status(Status.ACTIVE)


def _writes_agreement_status(node) -> bool:
    """``….update(status=…)`` on agreements (``Agreement.objects…``, ``customer.agreements…``),
    or ``<…agreement>.status = …``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("update", "bulk_update")
        and any(keyword.arg == "status" for keyword in node.keywords)
    ):
        names = {
            getattr(part, "id", None) or getattr(part, "attr", None)
            for part in ast.walk(node.func.value)
            if isinstance(part, ast.Name | ast.Attribute)
        }
        return bool(names & {"Agreement", "agreements"})
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(
            isinstance(target, ast.Attribute)
            and target.attr == "status"
            and ast.unparse(target.value).split(".")[-1].endswith("agreement")
            for target in targets
        )
    return False


def test_no_code_outside_set_status_writes_the_agreement_status():
    """A scan of the project's code (not tests, not migrations) for writes of the status."""
    writers = []
    project_apps = [Path(app.path) for app in apps.get_app_configs()]
    paths = [p for app in project_apps if app.is_relative_to(ROOT) for p in app.rglob("*.py")]
    for path in paths:
        if set(path.relative_to(ROOT).parts) & {"migrations", "tests"}:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if _writes_agreement_status(node):
                writers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    model = ROOT / "agreements" / "models.py"
    set_status = next(
        node
        for node in ast.walk(ast.parse(model.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name == "set_status"
    )
    allowed = {
        f"agreements/models.py:{node.lineno}"
        for node in ast.walk(set_status)
        if _writes_agreement_status(node)
    }
    assert allowed, "set_status itself writes the status"
    assert sorted(set(writers) - allowed) == []


def test_the_scan_finds_a_write_outside_set_status():
    sample = ast.parse(
        "Agreement.objects.filter(pk=1).update(status='ended')\n"
        "version.agreement.status = 'draft'\n"
        "Visit.objects.filter(pk=1).update(status='cancelled')\n"
        "customer.agreements.filter(status='active').update(status='ended')\n"
        "agreement.termination_requests.filter(status='standing').update(status='fulfilled')\n"
    )
    found = [node.lineno for node in ast.walk(sample) if _writes_agreement_status(node)]
    assert sorted(found) == [1, 2, 4]
