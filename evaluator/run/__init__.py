"""Running a job on Ray, in two rooms: :mod:`evaluator.run.plan` (configuration, devices,
placement and memory, cluster and nodes) and :mod:`evaluator.run.execute` (scheduler, executor,
actor, stages, recorder). :mod:`evaluator.run.driver` wires them together and is the one DuckDB
writer; :mod:`evaluator.run.quiet` keeps Ray quiet for the entry points (CLI and API).

May import every lower layer (data, scoring, models, results); never report or cli.
"""
