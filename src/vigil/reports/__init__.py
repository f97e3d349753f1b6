"""Case reports: summaries (CLI/JSON) and court reports."""
