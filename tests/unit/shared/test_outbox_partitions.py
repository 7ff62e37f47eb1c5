"""The relay picks partitions itself (it sends record batches); they must be the ones
aiokafka's `send` picks, so a key's records share a partition whoever publishes them."""

import pytest
from aiokafka.partitioner import DefaultPartitioner

from shared.messaging.outbox import _partition_of


@pytest.mark.parametrize("partitions", [(0,), (0, 1, 2), tuple(range(6)), tuple(range(32))])
def test_keyed_records_go_where_aiokafka_sends_them(partitions):
    partitioner = DefaultPartitioner()
    for key in (b"m-huber", b"SKU-0001", b"s-bench-a", "Müller".encode(), b"", b"x" * 300):
        assert _partition_of(key, partitions) == partitioner(key, list(partitions), list(partitions))


def test_records_without_key_spread_over_the_partitions():
    assert {_partition_of(None, (0, 1, 2)) for _ in range(200)} == {0, 1, 2}
