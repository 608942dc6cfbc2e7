"""Follow the gold plan in a TextWorld game and an ALFWorld-style game (needs dramaturg[textworld])."""

from dramaturg.worlds import make_world

for world_id, kwargs in [
    ("textworld/tw-cooking", {}),
    ("alfworld/pick_cool_then_place_in_recep", {"split": "unseen"}),
]:
    with make_world(world_id, **kwargs) as world:
        obs, info = world.reset(seed=0)
        print(world_id, "|", info["objective"])
        for command in info["gold_plan"]:
            obs, reward, terminated, truncated, info = world.step(command)
            print("  >", command, "|", obs.splitlines()[0] if obs else "")
        print("  won:", info["won"])
