"""The embedded broker: kombu's filesystem transport, with each message appearing in the queue folder whole.

kombu's filesystem transport (5.x) creates a message file under its final name and only then writes
it, while a consumer takes any file bearing a queue's name without looking at the writer's lock. A
consumer that comes in between moves away an empty file and the message is gone: under load, some
verification tasks were never run (files stayed Uploading) — tests/test_broker.py shows the loss.

Here a message is written under a name no consumer takes, then renamed into place. On one filesystem
a rename is atomic, so a consumer sees the whole message or nothing. Everything else is kombu's.
Selected by CELERY_BROKER_TRANSPORT when no REDIS_URL is set (portal/settings.py).
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Not "<queue>.msg" after the first dot, so consumers skip the file while it is being written.
_WRITING = ".writing"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu's own name: the consumers sort by it, so messages keep their order.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        writing = final + _WRITING
        try:
            with open(writing, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(writing, final)
        except OSError as error:
            try:
                os.unlink(writing)
            except OSError:
                pass
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
