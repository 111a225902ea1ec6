"""Experiments (issue 13): a grid of cells, each one measurement, each a JSON file."""
