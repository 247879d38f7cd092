"""Stand-in for the pip bootstrap script that ansible-test downloads from its CI file server.

That server is out of reach here; this shim bootstraps pip from the interpreter's own ensurepip and
then lets pip install what ansible-test asked for, from the package index pip is configured to use.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
