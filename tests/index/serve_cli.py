"""CLI of tests/index/serve: build the synthetic catalog and serve it on 127.0.0.1 until stopped."""

import argparse
import os
import signal
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.index import catalog  # noqa: E402
from tests.index.server import IndexServer  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(prog="serve", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--dir", help="index directory (default: a new temporary directory)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", help="require basic auth user:password")
    parser.add_argument("--build", action="store_true", help="(re)build the default catalog into --dir first")
    parser.add_argument("--build-tools", metavar="DIR",
                        help="also copy the setuptools and wheel wheels found in DIR into the index (optional)")
    args = parser.parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix="pymigrate-index-")
    if args.build or not os.path.exists(os.path.join(directory, "index.json")):
        catalog.build(directory, build_tools_dir=args.build_tools)
    elif args.build_tools:
        catalog.add_wheel_files(directory, args.build_tools)
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    server = IndexServer(directory, port=args.port, auth=auth)
    print(server.url, flush=True)
    print("serving %s; stop with Ctrl-C" % directory, file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_args: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
