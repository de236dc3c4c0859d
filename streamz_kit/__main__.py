"""`python -m streamz_kit` is `streamz-kit`."""

from streamz_kit.cli import main

main()
