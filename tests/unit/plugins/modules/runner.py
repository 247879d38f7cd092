"""Run a module of the collection in-process with the given arguments, as AnsiballZ would on a host, and return
its result (what exit_json or fail_json printed)."""

import contextlib
import importlib
import io
import json
from unittest import mock

from ansible.module_utils import basic


@contextlib.contextmanager
def module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19 and later
    except ImportError:
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield
        return
    with patch_module_args(args):
        yield


def run_module(name, args, check_mode=False):
    module = importlib.import_module("ansible_collections.airgap.pymigrate.plugins.modules.%s" % name)
    args = dict(args, _ansible_check_mode=check_mode)
    out = io.StringIO()
    with module_args(args), contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        module.main()  # exit_json and fail_json print the result, then exit
    return json.loads(out.getvalue().strip().splitlines()[-1])
