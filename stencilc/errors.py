"""Errors raised by stencilc for user mistakes (API.md §8)."""


class StencilError(ValueError):
    """A user mistake: the message names the offending name, option or sub-expression."""
