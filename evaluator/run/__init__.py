"""Running a job on Ray: the run configuration, planning of devices and memory, the cluster and
its nodes, the scheduler, the actor's pipeline of stages and the driver (the one DuckDB writer).

May import every lower layer (data, scoring, models, results); never report or cli.
"""
