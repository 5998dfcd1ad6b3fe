"""Tools run from a checkout (not installed): the fleet simulation (``python -m tools.fleet``)."""
