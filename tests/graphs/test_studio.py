import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_factories_that_build_graphs(monkeypatch):
    import importlib.util

    config = json.loads((ROOT / "langgraph.json").read_text())
    monkeypatch.setenv(
        "DRAMATURG_MODEL", "openai:http://127.0.0.1:9/v1#none"
    )  # built, never called
    for name, target in config["graphs"].items():
        path, func = target.split(":")
        spec = importlib.util.spec_from_file_location("studio", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        graph = getattr(module, func)()
        assert graph.name == name
        assert "__start__" in graph.get_graph().nodes
