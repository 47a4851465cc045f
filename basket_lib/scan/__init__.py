"""Bulk scans for failed reservations: engine, id input, CSV export, command line."""
