"""Aggregation: scoring, leaderboard tables, plots and status."""
