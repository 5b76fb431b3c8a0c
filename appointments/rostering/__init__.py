"""Rostering optimiser core: pure Python + OR-Tools CP-SAT, no Django.

- ``instance``: the problem as frozen dataclasses, and the benchmark text parser;
- ``verify``: an independent checker (objective, hard-rule violations);
- ``solver``: ``solve(instance, ...) -> Result``;
- ``roster_csv``: rosters as ``employee,day,shift`` CSV.

OR-Tools is imported only by ``solver`` and the modules it uses, so the web process can import
the dataclasses and the verifier without it.
"""
