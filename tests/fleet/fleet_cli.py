"""CLI of tests/fleet/fleet (which runs main() below): bring the air-gapped test fleet up or down.

See fleetlib.py for the design.
  fleet up --hosts N [--name NAME] [--tmpfs-size 256M] [--bare HOST[,HOST]] [--pythons 3.9,3.11]
           [--containers [--containers-size 1G]]
      prints the path of the fleet's Ansible inventory
  fleet down [--name NAME]
  fleet exec HOST [--name NAME] -- CMD...   run CMD inside the host's namespaces
  fleet stop-sshd HOST [--name NAME]        stop the host's sshd and its sessions (fault tests)
  fleet status [--name NAME]
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleetlib  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(prog="fleet", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--name", default=os.environ.get("PYMIGRATE_FLEET_NAME", "pmf"),
                        help="fleet name, prefix of its hosts (default: $PYMIGRATE_FLEET_NAME or pmf)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="bring N hosts up and print the inventory path")
    p_up.add_argument("--hosts", type=int, required=True)
    p_up.add_argument("--tmpfs-size", default="256M", help="size of each private tmpfs (/opt, /var/tmp, ...)")
    p_up.add_argument("--bare", default="", help="comma-separated hosts whose Python has no pip and no ensurepip")
    p_up.add_argument("--pythons", default=",".join(fleetlib.DEFAULT_PYTHONS),
                      help="Python X.Y versions to spread over the hosts (those present in pyenv)")
    p_up.add_argument("--user", default=None,
                      help="connect as this unprivileged user with password-less sudo (become) instead of root")
    p_up.add_argument("--containers", action="store_true",
                      help="give each host podman with its own image store and /etc/containers")
    p_up.add_argument("--containers-size", default="1G",
                      help="size of each host's image store tmpfs (/var/lib/containers; only what is used counts)")
    p_down = sub.add_parser("down", help="remove everything this fleet made")
    p_status = sub.add_parser("status", help="print the fleet's hosts as JSON")
    p_exec = sub.add_parser("exec", help="run a command inside a host's namespaces")
    p_exec.add_argument("host")
    p_exec.add_argument("cmd", nargs="*", help="command to run (put it after --)")
    p_stop = sub.add_parser("stop-sshd", help="stop a host's sshd and its sessions")
    p_stop.add_argument("host")
    for p in (p_up, p_down, p_status, p_exec, p_stop):
        p.add_argument("--name", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    # `exec HOST [--name NAME] -- CMD...`: everything after the first -- is the command, untouched.
    tail = []
    if "--" in argv:
        argv, tail = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            bare = [item for item in args.bare.split(",") if item]
            pythons = [item for item in args.pythons.split(",") if item]
            print(fleetlib.up(args.name, args.hosts, args.tmpfs_size, bare, pythons, user=args.user,
                              containers=args.containers, containers_size=args.containers_size))
        elif args.command == "down":
            fleetlib.check_tools()
            fleetlib.down(args.name)
        elif args.command == "status":
            print(json.dumps(fleetlib.status(args.name), indent=2))
        elif args.command == "exec":
            cmd = args.cmd + tail
            if not cmd:
                raise fleetlib.FleetError("exec needs a command after --")
            return subprocess.call(fleetlib.exec_argv(args.name, args.host, cmd))
        elif args.command == "stop-sshd":
            fleetlib.stop_sshd(args.name, args.host)
    except fleetlib.FleetError as exc:
        print("fleet: error: %s" % exc, file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print("fleet: error: %s failed: %s" % (" ".join(exc.cmd), (exc.stderr or "").strip()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
