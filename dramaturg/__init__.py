"""dramaturg: multi-agent LLM systems that act in worlds.

The names a user needs most are importable from here; each subpackage
(``dramaturg.models``, ``dramaturg.memory``, ``dramaturg.worlds``, ...)
documents the rest.
"""

from dramaturg.errors import (
    ConfigError,
    DramaturgError,
    MissingExtraError,
    ModelConnectionError,
    ModelError,
    ModelOutputError,
    RetryBudgetExceeded,
    ScriptError,
)
from dramaturg.models import (
    ChatModel,
    Completion,
    Message,
    Reply,
    ScriptedModel,
    Usage,
    assistant,
    caller,
    load_model,
    system,
    user,
)

__version__ = "0.1.0"

__all__ = [
    "ChatModel",
    "Completion",
    "ConfigError",
    "DramaturgError",
    "Message",
    "MissingExtraError",
    "ModelConnectionError",
    "ModelError",
    "ModelOutputError",
    "Reply",
    "RetryBudgetExceeded",
    "ScriptError",
    "ScriptedModel",
    "Usage",
    "__version__",
    "assistant",
    "caller",
    "load_model",
    "system",
    "user",
]
