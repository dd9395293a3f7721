"""Runs moto's server with dafnck's extensions installed.

moto 5 answers the Auto Scaling instance refresh actions with "not
implemented"; `instance_refresh` serves them (see its docstring). This
launcher installs it, then hands its arguments to moto's own server main
(`-H HOST -p PORT`), so the server is moto's in every other respect.

Usage: python3 scripts/servers/moto_ext/serve.py -H 127.0.0.1 -p 5000
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import instance_refresh  # noqa: E402  (after the path is set)

instance_refresh.install()

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main()
