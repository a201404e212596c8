"""Sizing planner: model size, method and tokens to a tier config, time and cost."""
