"""Errors raised by stencilc for user mistakes: `StencilError` (a `ValueError`)."""


class StencilError(ValueError):
    """A user mistake: the message names the offending name, option or sub-expression."""
