"""`python -m detachify`. Guarded: tools that import every submodule of a package (`python -m libcst.tool list`
with `detachify` among its `modules:`) must not start the command line."""
from .cli import command

if __name__ == "__main__":
    command()
