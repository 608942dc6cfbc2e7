"""Small tool agents: fine-tune the embedded model into LoRA adapters, one per world or tool.

The pipeline: :func:`build_sft_data` plays gold plans (and successful runs)
into chat examples split by game; :func:`train_lora` trains a LoRA adapter on
the packaged Gemma 3 270M through transformers and PEFT; :func:`export_lora_gguf`
writes it as a GGUF LoRA that the ``local`` backend loads
(``local?lora=PATH``); :class:`dramaturg.models.adapters.AdapterRegistry` maps
worlds and tools to their adapters; :func:`compare_adapter` plays held-out games
with and without one; :func:`dagger_examples` plays an adapter and labels each
state it reaches with an expert's command (on-policy data, DAgger), and
:func:`dagger_rounds` trains on from a trained adapter round after round;
:func:`train_tool_agent` runs the whole recipe (data, training, export,
registration) in one call. Training needs ``pip install "dramaturg[train]"``.

Example:
    >>> from dramaturg.training import build_sft_data, export_lora_gguf, train_lora
    >>> data = build_sft_data(["textworld/tw-simple"], range(20), "tw/data.jsonl")  # doctest: +SKIP
    >>> result = train_lora(data.path, out="tw/run")                               # doctest: +SKIP
    >>> export_lora_gguf(result.adapter_dir, "tw/tool-agent.gguf")                # doctest: +SKIP
"""

from dramaturg.training._splits import (
    SPLITS,
    check_splits,
    load_splits,
    split_cases,
    splits_path,
    tool_agent_settings,
)
from dramaturg.training.build import DataSummary, build_sft_data
from dramaturg.training.dagger import (
    DaggerData,
    DaggerGame,
    ModelPolicy,
    dagger_examples,
    tool_agent_policy,
)
from dramaturg.training.data import SFTExample, load_sft_data
from dramaturg.training.evaluate import compare_adapter, step_stats
from dramaturg.training.expert import alfworld_expert, textworld_expert
from dramaturg.training.export import export_lora_gguf
from dramaturg.training.lora import DEFAULT_TARGETS, TrainResult, train_lora
from dramaturg.training.pipeline import PipelineReporter, ToolAgentRun, train_tool_agent
from dramaturg.training.rounds import DaggerReporter, DaggerRound, dagger_rounds
from dramaturg.training.traces import from_traces

__all__ = [
    "DEFAULT_TARGETS",
    "SPLITS",
    "DaggerData",
    "DaggerGame",
    "DaggerReporter",
    "DaggerRound",
    "DataSummary",
    "ModelPolicy",
    "PipelineReporter",
    "SFTExample",
    "ToolAgentRun",
    "TrainResult",
    "alfworld_expert",
    "build_sft_data",
    "check_splits",
    "compare_adapter",
    "dagger_examples",
    "dagger_rounds",
    "export_lora_gguf",
    "from_traces",
    "load_sft_data",
    "load_splits",
    "split_cases",
    "splits_path",
    "step_stats",
    "textworld_expert",
    "tool_agent_policy",
    "tool_agent_settings",
    "train_lora",
    "train_tool_agent",
]
