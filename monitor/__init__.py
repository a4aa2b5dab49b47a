"""ministry-monitor: watch government ministry news listings, keep every version, and send signed webhooks."""

__version__ = "0.1.0"
