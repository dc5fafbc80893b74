"""Evaluation: the metric backend's client, the queries of a cycle, the evaluator that turns
answers into a snapshot, the engine holding the live SLO set, its scheduler and reloads."""
