"""Rostering optimiser core: pure Python + OR-Tools CP-SAT, no Django.

- ``instance``: the problem as frozen dataclasses, and the benchmark text parser;
- ``verify``: an independent checker (objective, hard-rule violations), no OR-Tools;
- ``solver``: ``solve(instance, ...) -> Result``, built on ``model`` (the CP-SAT formulation),
  ``patterns`` (redundant window cuts), ``construct`` (greedy first roster), ``lns`` and
  ``neighbourhoods`` (large-neighbourhood search) and ``explain`` (why a problem is infeasible);
- ``roster_csv``: rosters as ``employee,day,shift`` CSV.

Only ``solver`` and the modules it uses import OR-Tools, so the web process can import the
dataclasses, the verifier and the CSV helpers without it.
"""
