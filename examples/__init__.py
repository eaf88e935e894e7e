"""Showcases: the patterns of docs/patterns.md that the service itself does not call, one runnable
file per pattern (as SQLAlchemy's examples are). Each runs against DATABASE_URL with
`python -m examples.<name>`, inside a transaction it rolls back, and is tested in tests/examples/.
"""
