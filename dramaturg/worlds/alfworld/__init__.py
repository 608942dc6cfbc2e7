"""ALFWorld-style household games generated procedurally on the ALFWorld PDDL domain."""

from dramaturg.worlds.alfworld._generate import TASK_TYPES, GameSpec, make_game, split_of_object
from dramaturg.worlds.alfworld.world import AlfworldWorld, game_file

__all__ = ["TASK_TYPES", "AlfworldWorld", "GameSpec", "game_file", "make_game", "split_of_object"]
