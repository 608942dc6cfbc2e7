"""Drama: plays designed from a topic, played by actor agents under a director.

* :mod:`.blueprint`: the play (cast, scenes, beats), as data and as YAML;
* :mod:`.design` (with :mod:`.drafts` and :mod:`.form`): its design by a model;
* :mod:`.cards`: character cards (TavernHelper V2/V3, SillyTavern PNGs), with
  :mod:`.card_spec` (the specs' objects) and :mod:`.persona` (what an actor
  plays from);
* :mod:`.actor` and :mod:`.director`: the roles, with a structured path for
  instruction-tuned models and a script-completion path for base models
  (:mod:`.script`);
* :mod:`.graph`: the drama graph (scenes, turns, the player's interrupt), and
  :mod:`.protocols`: what it needs of a blueprint and of a memory;
* :mod:`.session`: sessions on disk that survive ``kill -9``;
* :mod:`.metrics`: what a played transcript shows;
* ``plays/``: bundled blueprints (``elsinore``).
"""

from dramaturg.drama._bundled import bundled_plays, resolve_play
from dramaturg.drama.actor import Actor, ActorDecision, ActorView
from dramaturg.drama.blueprint import Blueprint, BlueprintError
from dramaturg.drama.cards import CardError, CharacterCard, load_card
from dramaturg.drama.design import design_blueprint
from dramaturg.drama.director import Director, Reflection, apply_reflection
from dramaturg.drama.graph import DramaState, actor_for, check_player_input, director_for, drama
from dramaturg.drama.metrics import DramaMetrics, drama_metrics
from dramaturg.drama.protocols import BlueprintLike, MemoryLike
from dramaturg.drama.script import ScriptActor
from dramaturg.drama.session import DramaSession, SessionMeta, sessions_dir

__all__ = [
    "Actor",
    "ActorDecision",
    "ActorView",
    "Blueprint",
    "BlueprintError",
    "BlueprintLike",
    "CardError",
    "CharacterCard",
    "Director",
    "DramaMetrics",
    "DramaSession",
    "DramaState",
    "MemoryLike",
    "Reflection",
    "ScriptActor",
    "SessionMeta",
    "actor_for",
    "apply_reflection",
    "bundled_plays",
    "check_player_input",
    "design_blueprint",
    "director_for",
    "drama",
    "drama_metrics",
    "load_card",
    "resolve_play",
    "sessions_dir",
]
