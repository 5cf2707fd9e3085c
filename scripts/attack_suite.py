"""The long attack suite of issue 19: tries to break the core with hostile input and prints a summary table.

    python scripts/attack_suite.py                  # everything (a few minutes on 2 cores)
    python scripts/attack_suite.py --quick          # fewer SIGKILL trials
    python scripts/attack_suite.py --no-postgres    # SQLite only

Every attack ends one of four ways: a clear error (a DeRVOSError whose message names the cause), a correct
result (input that must work did), a wrong result (accepted what must be refused, refused what must work,
or stored data that disagrees with itself), or a traceback (any other exception: a bug). Durability trials
also count acknowledged data lost (a save the caller was told succeeded, missing afterwards). The fast
subset lives in tests/test_attacks_*.py. Exit status 1 when any traceback, wrong result or loss is found.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from attack_tally import TALLIES, table  # noqa: E402
from attacks_inputs import (bad_videos, hostile_datasets, malicious_checkpoints, malicious_pickles,  # noqa: E402
                            typed_input)
from attacks_store import (concurrent_trials, full_disk, hostile_exports, kill_trials, killed_exports,  # noqa: E402
                           store_values, unopenable_store)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer SIGKILL trials (20 SQLite, 5 PostgreSQL)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL trials")
    args = parser.parse_args(argv)
    sqlite_kills, pg_kills, export_kills = (20, 5, 3) if args.quick else (80, 25, 10)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="derrvos-attacks-") as tmp:
        work = Path(tmp)
        from tests.pg import pg_binaries, postgres_server

        # store work first: writers are forked, before torch starts its threads
        kill_trials("SIGKILL mid-save, SQLite", f"sqlite:///{work / 'kill.db'}", sqlite_kills, work / "k")
        counter = iter(range(1000))
        concurrent_trials("concurrent writers, SQLite",
                          lambda: f"sqlite:///{work / f'conc{next(counter)}.db'}", work / "c")
        store_values("values the store cannot hold, SQLite", work / "v", f"sqlite:///{work / 'values.db'}")
        full_disk("full disk on save, SQLite", work / "fd")
        unopenable_store("stores that cannot be opened", work)
        if not args.no_postgres and pg_binaries() is not None:
            with postgres_server() as server:
                kill_trials("SIGKILL mid-save, PostgreSQL", server.create_database(), pg_kills, work / "pk")
                concurrent_trials("concurrent writers, PostgreSQL", server.create_database, work / "pc")
                store_values("values the store cannot hold, PostgreSQL", work / "pv",
                             server.create_database())
        hostile_exports("hostile names x export formats", work / "n")
        killed_exports("SIGKILLed exports", work / "e", export_kills)
        malicious_pickles("malicious pickles", work / "p")
        malicious_checkpoints("malicious checkpoints", work / "m")
        hostile_datasets("hostile dataset files", work / "d")
        from derrvos_core.model.catalog import load_model

        model = load_model("synthref")  # the tiny model: the attacks are on the inputs, not the model
        bad_videos("bad videos (Python API)", work / "bv", model)
        typed_input("expressions and settings", model)
    print(table())
    notes = [f"- {name}: {note}" for name, t in TALLIES.items() for note in t.notes]
    if notes:
        print("\nFindings:\n" + "\n".join(notes))
    print(f"\n{sum(t.tried for t in TALLIES.values())} attacks in {time.monotonic() - started:.0f} s "
          f"(python scripts/attack_suite.py{' --quick' if args.quick else ''})")
    bad = sum(t.wrong + t.tracebacks + t.lost for t in TALLIES.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
