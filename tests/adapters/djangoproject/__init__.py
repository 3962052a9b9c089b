"""A small Django project for the storage tests: one app, a model with a ``FileField``."""
