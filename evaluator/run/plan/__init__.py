"""Planning a run before anything starts: the run configuration, devices and hardware, placement and
memory per actor, the Ray cluster and its nodes.

May import data, scoring, models and results; never :mod:`evaluator.run.execute`.
"""
