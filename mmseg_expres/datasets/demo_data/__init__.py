"""Generators of small data sets in the real folder layouts, for the demos and the tests."""
