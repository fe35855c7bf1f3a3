"""loopwatch: quality control for music loops.

The package is a library first; the ``loopwatch`` command, the daemon and the
DAW clients are thin shells over it. Data flows one way::

    audio -> checks / embed -> detect -> alerts -> transport

Importing :mod:`loopwatch` is cheap: torch and the encoders are imported only
by the modules that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
