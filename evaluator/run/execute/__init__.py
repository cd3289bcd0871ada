"""Executing a planned run: the scheduler and what it talks to (interfaces), the Ray executor, the
actor and its stages, the recorder that stores rows.

May import data, scoring, models, results and :mod:`evaluator.run.plan`.
"""
