"""Play the bundled Elsinore stage: who sees what, and the gold plan."""

from dramaturg.worlds import make_world

with make_world("theatre/elsinore") as world:
    obs, info = world.reset(seed=0)
    print(obs, "\n")
    for action in ['say Claudius "Something is rotten."', "wait", "poison cup", "read letter"]:
        obs, reward, terminated, truncated, info = world.step(action)
        print(f"{action!r} -> {obs}")
        for event in info["events"]:
            print(f"   event {event.kind}: {event.text!r} witnessed by {sorted(event.witnesses)}")
    print("next turn:", info["turn"])
