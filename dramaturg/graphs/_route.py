"""Routers that run as part of their node's step, without a traced run of their own.

Given a plain routing function, LangGraph wraps it in a runnable that opens a
callback run and starts an asyncio task for every call. On the workforce graph
that was the largest part of the framework's own cost per routed step (see the
Graphs section of ``benchmarks/RESULTS.md``). A :class:`Router` is awaited
directly instead: the route is the same, the node it follows is still traced,
only the router's own child run is gone from callbacks and traces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["Router"]


class Router(Runnable[Any, Any]):
    """An async routing function for ``add_conditional_edges``, called without tracing.

    LangGraph reads the state it passes from the channels of the node the
    router follows (for our graphs: the whole state, as a plain function's
    ``state: ...State`` annotation would give). The branch keeps the
    function's name.

    Example:
        >>> builder.add_conditional_edges("join", Router(nodes.coordinate), ["work", "finish"])  # doctest: +SKIP
    """

    def __init__(self, route: Callable[[Any], Awaitable[Any]]) -> None:
        self.route = route
        self.name = route.__name__

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        raise TypeError(f"the router {self.name!r} is async: run the graph with ainvoke or astream")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self.route(input)
