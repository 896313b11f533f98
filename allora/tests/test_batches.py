import gc
import weakref

import pytest

from allora.batches import collector_paused


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
