"""The local shop in text mode (add mode="browser" to drive Chromium instead)."""

from dramaturg.worlds import make_world

with make_world("web/shop") as world:
    obs, info = world.reset(seed=1)
    print(info["objective"], "\n")
    print(obs, "\n")
    for action in info["gold_plan"]:
        obs, reward, terminated, truncated, info = world.step(action)
        print(">", action)
    print(obs)
    print("won (judged by the server):", info["won"])
