"""Scenarios (TOML data), the rubric data, and the customer who reacts to each answer.

May import analysis result types; never kiosk.
"""
