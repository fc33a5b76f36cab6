"""The embedded broker (portal/broker.py): a message is never visible to consumers before it is whole."""

from queue import Empty

import pytest
from kombu import Connection
from kombu.transport.virtual import BrokerState

from portal import broker


@pytest.fixture
def folders(tmp_path, monkeypatch):
    # kombu's filesystem transport keeps its exchanges in a class-wide state: a portal task queued earlier in this
    # process (an integration test's) would route these messages to its folders. These tests get a state of their own.
    monkeypatch.setattr(broker.Transport, "global_state", BrokerState())
    # control_folder too: kombu's default is ./control, which would leave an exchange file in the checkout.
    return {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path / "control"),
            "store_processed": False}


def test_a_consumer_polling_while_a_message_is_written_does_not_take_it(folders, monkeypatch):
    """kombu's own filesystem transport creates the file under its final name before writing it, so a
    consumer polling in between takes an empty file and the message is lost; here it waits its turn."""
    with Connection("filesystem://", transport=broker.Transport, transport_options=folders) as producer, \
         Connection("filesystem://", transport=broker.Transport, transport_options=folders) as consumer:
        reader = consumer.default_channel
        seen_while_writing = []
        real_dumps = broker.dumps

        def dumps_with_a_poll_in_the_middle(payload):
            # The message file is open for writing now: a consumer polls the queue at this very moment.
            try:
                seen_while_writing.append(reader._get("default"))
            except Empty:
                seen_while_writing.append("nothing yet")
            return real_dumps(payload)

        monkeypatch.setattr(broker, "dumps", dumps_with_a_poll_in_the_middle)
        producer.default_channel._put("default", {"body": "verify these 25 files"})
        monkeypatch.undo()

        assert seen_while_writing == ["nothing yet"]
        assert reader._get("default") == {"body": "verify these 25 files"}


def test_every_message_goes_through_whole(folders):
    with Connection("filesystem://", transport=broker.Transport, transport_options=folders) as connection:
        queue = connection.SimpleQueue("default")
        for number in range(50):
            queue.put({"n": number})
        received = []
        for _ in range(50):
            message = queue.get(timeout=2)
            received.append(message.payload["n"])
            message.ack()
        assert sorted(received) == list(range(50))
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)
