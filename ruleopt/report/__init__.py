"""Proposal reports (issue 13): an experiment's cells as one page with verdicts."""
