"""The real ``dramaturg`` command in a child process, played by a model whose answers follow from the prompt.

The kill -9 tests run it as::

    python -m tests.drama._kill_child DELAY_S drama play SESSION --auto --max-turns N
    python -m tests.drama._kill_child DELAY_S serve --port PORT

``dramaturg.models.load_model`` is swapped for one that returns
:class:`PromptModel` behind ``DelayedModel`` (so a turn takes a few
milliseconds and a kill lands in the middle of the play), with the standard
wrappers ``load_model`` puts around every backend; everything else is the
CLI's own code.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from collections.abc import Sequence
from typing import Any

from dramaturg.models import DelayedModel, wrap
from dramaturg.models.base import Completion, Message
from dramaturg.testing import SchemaModel


class PromptModel(SchemaModel):
    """:class:`SchemaModel` whose every answer is a function of the prompt alone.

    SchemaModel counts its calls and rotates its choices from call to call,
    so a process started again after a kill would answer otherwise than one
    that never stopped. Here each call starts from a state drawn from the
    prompt's hash: the same checkpoint always gives the same next turn, in
    any process.
    """

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        digest = hashlib.sha256(
            json.dumps(list(messages), sort_keys=True, default=str).encode()
        ).digest()
        self._seed = int.from_bytes(digest[:8], "big")
        self.calls = self._seed % 1000  # the number in "line N"
        return await super().complete(messages, **opts)

    def _rotate(self, options: tuple[Any, ...], where: tuple[str, str]) -> Any:
        return options[(self._seed + zlib.crc32(repr(where).encode())) % len(options)]


def main(argv: list[str]) -> None:
    delay_s = float(argv[0])

    def load_model(
        spec: str | None = None, *, retries: int = 2, trace: Any = None, **options: Any
    ) -> Any:
        return wrap(DelayedModel(PromptModel(), delay_s), retries=retries, trace=trace)

    import dramaturg.models

    dramaturg.models.load_model = load_model  # read at call time by the session and by `serve`
    from dramaturg.cli import app

    app(args=argv[1:], prog_name="dramaturg")


if __name__ == "__main__":
    main(sys.argv[1:])
