"""Default data files of the persons capability (policy, routing tables, examples)."""
