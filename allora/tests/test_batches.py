import datetime as dt
import gc
import weakref
from collections import Counter

import pytest
import time_machine

from allora.batches import collector_paused, insert_new
from scheduling.models import Visit
from scheduling.planning import plan_term
from scheduling.tests.factories import EVERY_TUESDAY, make_term


@pytest.fixture
def collector_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_paused_during_a_batch_and_resumed_after(collector_enabled):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_resumed_when_a_batch_fails(collector_enabled):
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused(collector_enabled):
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_cycles_made_during_a_batch_wait_for_the_first_collection_after_it(collector_enabled):
    class Node:
        pass

    with collector_paused():
        first = Node()
        first.self = first
        alive = weakref.ref(first)
        del first
        for _ in range(50_000):  # far past the threshold that would start a collection
            node = Node()
            node.self = node
        del node
        assert alive() is not None  # nothing collected during the batch
    gc.collect()
    assert alive() is None


# insert_new: bulk_create(ignore_conflicts=True), through COPY on PostgreSQL ------------------

PLANNED = dt.datetime(2027, 1, 10, 12, tzinfo=dt.UTC)
INSERTED = dt.datetime(2027, 2, 1, 12, tzinfo=dt.UTC)


def _visits() -> dict:
    """(line, series, occurrence) → the visit's other columns but its id and timestamps."""
    names = [
        f.attname
        for f in Visit._meta.concrete_fields
        if not f.primary_key and f.name not in ("created_at", "updated_at")
    ]
    return {
        (row["line_id"], row["series"], row["occurrence_start"]): row
        for row in Visit.objects.values(*names)
    }


@pytest.mark.django_db
def test_insert_new_writes_what_bulk_create_writes_and_skips_rows_already_there():
    with time_machine.travel(PLANNED, tick=False):
        term = make_term(lines=[{}, EVERY_TUESDAY])
        plan_term(term)
    planned = _visits()
    copies = list(Visit.objects.order_by("pk"))
    missing = copies[::3]
    Visit.objects.filter(pk__in=[visit.pk for visit in missing]).delete()
    for visit in copies:
        visit.pk = None
        visit.created_at = None  # auto_now_add: set on insert, as bulk_create sets it
    changed = missing[0]
    changed.checklist = [{"item": "Backups", "done": True}]  # JSON goes through its field
    expected = dict(planned)
    key = (changed.line_id, changed.series, changed.occurrence_start)
    expected[key] = {**planned[key], "checklist": [{"item": "Backups", "done": True}]}

    with time_machine.travel(INSERTED, tick=False):
        insert_new(copies + copies[:5])  # the rows still there, and repeats, are left out

    assert Visit.objects.count() == len(planned) == 12 + 52
    assert _visits() == expected
    created = Counter(Visit.objects.values_list("created_at", flat=True))
    assert created == {PLANNED: len(planned) - len(missing), INSERTED: len(missing)}


@pytest.mark.django_db
def test_insert_new_of_nothing_writes_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_new([])
