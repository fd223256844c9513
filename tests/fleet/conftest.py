"""Fleet fixtures: see `fleet.plumbing`."""

from fleet.plumbing import fleet_index  # noqa: F401
