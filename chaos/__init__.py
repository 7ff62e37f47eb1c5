"""Chaos: the platform under faults (kills, a paused broker, a stopped database, unreliable
webhook receivers) must lose nothing, duplicate nothing and decide as it would have without
them. Run with `python -m chaos` (`make chaos`); see `chaos/__main__.py`."""
