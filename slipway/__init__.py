"""Slipway's shared domain code: settings, database models, the event model and agent adapters.

Kept free of FastAPI and Temporal imports so that both the API and the activities can use it.
"""
