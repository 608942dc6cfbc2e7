"""A child process that appends events, for the concurrency and kill tests.

Usage: python _writer.py DB NAME COUNT BATCH
Writes COUNT events named NAME-<i>, BATCH per transaction (1 = one record()
call each), and prints "ACK <first> <last>" after each committed write.
"""

import sys

from dramaturg.memory.episodic import EpisodicMemory


def main() -> None:
    db, name, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    log = EpisodicMemory(db)
    print("READY", flush=True)
    i = 0
    while i < count:
        n = min(batch, count - i)
        evs = [
            {"id": f"{name}-{j}", "text": f"{name} event {j} " + "x" * (j % 50), "actor": name,
             "place": f"room{j % 7}", "witnesses": {name, f"w{j % 3}"}, "step": j, "importance": 2.0}
            for j in range(i, i + n)
        ]  # fmt: skip
        if batch == 1:
            log.record(evs[0])
        else:
            log.record_many(evs)
        print(f"ACK {i} {i + n - 1}", flush=True)
        i += n
    log.close()


if __name__ == "__main__":
    main()
