"""LLM backends behind one small protocol, and the wrappers around them.

The embedded model's LoRA adapters, and the registry of which world or tool
uses which, live in :mod:`dramaturg.models.adapters`.

Start with :func:`load_model`::

    from dramaturg.models import load_model, user
    model = load_model("local")            # the embedded Gemma 3 270M
    print(model.complete_sync([user("Once upon a time")]).text)
"""

from dramaturg.models.adapters import AdapterEntry, AdapterRegistry
from dramaturg.models.base import (
    BaseChatModel,
    ChatModel,
    Completion,
    Message,
    ModelKind,
    Usage,
    assistant,
    caller,
    current_caller,
    model_kind,
    run_sync,
    system,
    user,
)
from dramaturg.models.check import ModelCheck, check_model
from dramaturg.models.hosted import LiteLLMModel
from dramaturg.models.loader import load_model, parse_spec
from dramaturg.models.local import LocalModel
from dramaturg.models.openai_compat import OpenAIModel
from dramaturg.models.scripted import Reply, ScriptedCall, ScriptedModel
from dramaturg.models.wrappers import (
    CallerUsage,
    DelayedModel,
    ModelWrapper,
    RetryingModel,
    TracingModel,
    UsageModel,
    UsageReport,
    wrap,
)

__all__ = [
    "AdapterEntry",
    "AdapterRegistry",
    "BaseChatModel",
    "CallerUsage",
    "ChatModel",
    "Completion",
    "DelayedModel",
    "LiteLLMModel",
    "LocalModel",
    "Message",
    "ModelCheck",
    "ModelKind",
    "ModelWrapper",
    "OpenAIModel",
    "Reply",
    "RetryingModel",
    "ScriptedCall",
    "ScriptedModel",
    "TracingModel",
    "Usage",
    "UsageModel",
    "UsageReport",
    "assistant",
    "caller",
    "check_model",
    "current_caller",
    "load_model",
    "model_kind",
    "parse_spec",
    "run_sync",
    "system",
    "user",
    "wrap",
]
