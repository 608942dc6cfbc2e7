"""Child process for test_every_role_schema_compiles_to_a_grammar: a bad grammar kills the process."""

import sys

from dramaturg.agents.schemas import CriticVerdict, Plan, ReactStep
from dramaturg.agents.tool_agent import _command_schema
from dramaturg.drama.actor import ActorDecision
from dramaturg.drama.director import DirectorPick, Reflection
from dramaturg.errors import ModelError
from dramaturg.evals.judge import CriterionAnswer
from dramaturg.models import user
from dramaturg.models.local import LocalModel

model = LocalModel(optimistic_json=False)  # always the grammar path
schemas = [
    ReactStep,
    Plan,
    CriticVerdict,
    ActorDecision,
    DirectorPick,
    Reflection,
    CriterionAnswer,
    _command_schema(["look", 'say "hello"', "go to desk 1"]),
]
for schema in schemas:
    try:
        model.structured_sync([user("Answer in JSON.")], schema, max_tokens=6)
    except ModelError:
        pass  # six tokens rarely make a whole answer; only a crash matters here
    print("ok", schema.__name__, flush=True)
sys.exit(0)
