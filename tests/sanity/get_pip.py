"""Pip bootstrap for ansible-test's sanity virtualenvs.

ansible-test downloads its own bootstrap script (get-pip) from a host of its
own; where only the Python package index is reachable, scripts/sanity.sh puts
this file in ansible-test's cache instead. It does what get-pip does: puts pip
into the interpreter running it (Python's bundled ensurepip), then installs
the packages ansible-test asks for (pip, setuptools, wheel at its pinned
versions) from the package index.
"""

import subprocess
import sys

# get-pip's own switches; the rest are pip install arguments.
OWN_SWITCHES = {"--no-setuptools", "--no-wheel"}


def main():
    args = [arg for arg in sys.argv[1:] if arg not in OWN_SWITCHES]
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True,
                   stdout=subprocess.DEVNULL)
    sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", *args], check=False).returncode)


if __name__ == "__main__":
    main()
