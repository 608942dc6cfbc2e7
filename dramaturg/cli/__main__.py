"""`python -m dramaturg.cli`: the same as the `dramaturg` command."""

from dramaturg.cli import main

if __name__ == "__main__":
    main()
