"""Helpers every package may use: SQLite files, coded errors, safe JSON.

A leaf like ``config``: it imports only ``config`` and third-party libraries, never a stage or the service.
"""
