"""The wheel_push action: the host's files and environments come from its slice of the manifest (read once), what
the host's store holds (wheel_store, state=prepared) decides what is sent, and check mode sends nothing. The host side
(wheel_store) is stood in for; tests/integration runs the real thing over SSH."""

import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.action.runner import make_action
from tests.unit.plugins.plugin_utils.test_bundle import build, host


@pytest.fixture(autouse=True)
def streams_of_this_test(tmp_path, monkeypatch):
    """The push's streams (a directory of the user under the temporary directory) in this test's own directory."""
    streams = tmp_path / "tmp"
    streams.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(streams))
    return streams


@pytest.fixture
def bundle_dir(tmp_path):
    build(tmp_path, [host("web1"), host("web2", python="3.12", alpha="==1.0")])
    return str(tmp_path)


class SshConnection:
    """Stands in for ansible.builtin.ssh: its options, and the ssh_args in force when each file is transferred."""

    transport = "ssh"

    def __init__(self, ssh_args):
        self.options = {"ssh_args": ssh_args}
        self.transfers = []
        self._shell = mock.MagicMock(tmpdir=None)

    def get_option(self, name):
        return self.options[name]

    def set_option(self, name, value):
        self.options[name] = value


def push(bundle_dir, host_name, present=(), check_mode=False, current=(), task_vars=None, args=None, connection=None,
         receive_fails=False, remote_dir=None):
    """remote_dir: the connection pipelines, and this directory stands in for the host: the stream is copied there
    and the receiver program runs on this machine, as the host's Python would run it."""
    action = make_action("wheel_push", dict({"bundle_dir": bundle_dir, "store_dir": "/var/lib/pymigrate/store"},
                                            **(args or {})), check_mode=check_mode)
    calls = []
    fixups = []
    if connection is not None:
        action._connection = connection

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_args)
        if module_args["state"] == "prepared":
            paths = [item["path"] for item in module_args["files"]]
            return {"present": [p for p in paths if p in present], "missing": [p for p in paths if p not in present],
                    "corrupt": [], "removed_partials": [], "interpreter": sys.executable if remote_dir else None,
                    "environments": [{"path": env["path"], "lock_id": env["lock_id"], "current": env["path"] in current}
                                     for env in module_args["environments"]]}
        if receive_fails:
            return {"failed": True, "msg": "sha256 mismatch"}
        return {"received": [item["path"] for item in module_args["files"]], "changed": True}

    action._execute_module = execute_module

    def transfer_file(local, remote):
        if connection is not None and connection.transport == "ssh":
            connection.transfers.append(connection.get_option("ssh_args"))
        if remote_dir:
            shutil.copyfile(local, remote)
        return remote

    def low_level_execute_command(cmd, sudoable=True, in_data=None):
        calls.append({"state": "received (program)", "cmd": cmd})
        done = subprocess.run(cmd, shell=True, input=in_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
        return {"rc": done.returncode, "stdout": done.stdout.decode(), "stderr": done.stderr.decode()}

    action._transfer_file = transfer_file
    action._fixup_perms2 = lambda paths, execute=True: fixups.append(execute)
    action._is_pipelining_enabled = lambda module_style, wrap_async=False: bool(remote_dir)
    action._low_level_execute_command = low_level_execute_command
    if remote_dir:
        os.makedirs(remote_dir, exist_ok=True)
        action._connection._shell.join_path = os.path.join
        action._connection._shell.get_option = lambda name: remote_dir  # remote_tmp: where the listing makes a dir
        action._templar = Templar(loader=DataLoader())  # reads ansible_python_interpreter as Ansible does
        action._play_context.become = False
    action._make_tmp_path = lambda: remote_dir or "/tmp/remote"
    action._remove_tmp_path = lambda path: None
    result = action.run(task_vars=dict(task_vars or {}, inventory_hostname=host_name))
    result["_fixups"] = fixups
    return result, calls


def test_the_host_slice_decides_what_is_sent_and_the_envs_come_back(bundle_dir):
    manifest = _manifest.read(bundle_dir)
    wanted = [item["path"] for item in _manifest.host_files(manifest, "web2")]
    result, calls = push(bundle_dir, "web2", present=wanted[:1])
    assert [c["state"] for c in calls] == ["prepared", "received"]
    assert [item["path"] for item in calls[0]["files"]] == wanted
    envs = _manifest.host_envs(manifest, "web2")
    # Checked before any file moves, and against the lock: the install learns the environment's state from this call.
    assert calls[0]["environments"] == [{"path": "/opt/pymigrate/venv", "python": None, "lock_id": envs[0]["lock_id"],
                                         "packages": envs[0]["packages"]}]
    assert result["sent"] == wanted[1:] and result["present"] == 1 and result["changed"] and result["asked_host"]
    assert result["envs"] == [dict(envs[0], known_state={"path": "/opt/pymigrate/venv", "lock_id": envs[0]["lock_id"],
                                                         "current": False})]
    assert [p["name"] for p in result["envs"][0]["packages"]] == ["alpha"]
    # What the install compares with the slice it reads itself before it takes a known_state from this result.
    assert result["slice_id"] == _manifest.host_slice(bundle_dir, "web2")["slice_id"] and result["serial"] == 1


def test_nothing_missing_sends_nothing(bundle_dir):
    wanted = [item["path"] for item in _manifest.host_files(_manifest.read(bundle_dir), "web1")]
    result, calls = push(bundle_dir, "web1", present=wanted)
    assert [c["state"] for c in calls] == ["prepared"] and result["sent"] == [] and not result["changed"]


def test_check_mode_reads_the_proposal_and_sends_nothing(bundle_dir):
    build(bundle_dir, [host("web1", alpha="==1.0")], check_mode=True)  # proposal: web1 now wants alpha 1.0
    result, calls = push(bundle_dir, "web1", check_mode=True)
    assert [c["state"] for c in calls] == ["prepared"] and result["changed"]
    assert [(p["name"], p["version"]) for p in result["envs"][0]["packages"]] == [("alpha", "1.0")]


def test_a_host_the_bundle_does_not_cover_is_named(bundle_dir):
    result, calls = push(bundle_dir, "db9")
    assert result["failed"] and "host db9 is not in the bundle" in result["msg"] and calls == []


def test_no_bundle_directory(tmp_path):
    result, calls = push(str(tmp_path / "none"), "web1")
    assert result["failed"] and "not a directory on the control node" in result["msg"] and calls == []


def test_a_file_the_bundle_lacks_fails_before_anything_is_sent(bundle_dir):
    wanted = _manifest.host_files(_manifest.read(bundle_dir), "web2")
    push(bundle_dir, "web2")  # a stream of these files was written before: no reason to send them now
    os.unlink(os.path.join(bundle_dir, wanted[0]["path"]))
    result, calls = push(bundle_dir, "web2")
    assert result["failed"] and "lacks %s" % wanted[0]["path"] in result["msg"]
    assert [c["state"] for c in calls] == ["prepared"]  # no stream, no receive


def test_the_store_path_goes_to_the_host_as_the_task_gave_it(bundle_dir):
    # The module expands it on the host: "~" is the remote user's home there, not the control node's.
    _result, calls = push(bundle_dir, "web2", args={"store_dir": "~/store"})
    assert {c["store_dir"] for c in calls} == {"~/store"}


def _survey_check(bundle_dir, host_name, present, current, **changes):
    host_slice = _manifest.host_slice(bundle_dir, host_name)
    check = {"slice_id": host_slice["slice_id"], "verify": "size",
             "store": {"present": len(present),
                       "missing": [f["path"] for f in host_slice["files"] if f["path"] not in present],
                       "corrupt": [], "removed_partials": []},
             "environments": [{"path": env["path"], "lock_id": env["lock_id"], "current": current}
                              for env in host_slice["envs"]]}
    check.update(changes)
    return {"__pymigrate_target_facts": {"rollout_check": check}}


def test_the_survey_of_the_same_slice_answers_and_the_host_is_not_asked(bundle_dir):
    wanted = [item["path"] for item in _manifest.host_files(_manifest.read(bundle_dir), "web1")]
    result, calls = push(bundle_dir, "web1", task_vars=_survey_check(bundle_dir, "web1", wanted, True))
    assert calls == [] and result["asked_host"] is False and result["sent"] == [] and not result["changed"]
    assert result["envs"][0]["known_state"]["current"] is True


def test_the_survey_answer_is_not_used_for_another_slice_or_check(bundle_dir):
    wanted = [item["path"] for item in _manifest.host_files(_manifest.read(bundle_dir), "web1")]
    for changes in ({"slice_id": "0" * 64}, {"verify": "full"}, {"error": "store not owned by root"},
                    {"environments": [{"path": "/opt/pymigrate/venv", "current": False, "error": "not ours"}]}):
        result, calls = push(bundle_dir, "web1", present=wanted,
                             task_vars=_survey_check(bundle_dir, "web1", wanted, True, **changes))
        assert [c["state"] for c in calls] == ["prepared"] and result["asked_host"], changes


def test_files_the_survey_found_missing_are_sent_without_asking_the_host_first(bundle_dir):
    wanted = [item["path"] for item in _manifest.host_files(_manifest.read(bundle_dir), "web1")]
    result, calls = push(bundle_dir, "web1", task_vars=_survey_check(bundle_dir, "web1", wanted[1:], False))
    assert [c["state"] for c in calls] == ["received"] and result["sent"] == wanted[:1]


def test_the_stream_goes_without_ssh_compression_and_the_options_come_back(bundle_dir):
    # Ansible's default ssh_args compress: the wheels would be deflated again on the way, for nothing.
    connection = SshConnection("-C -o ControlMaster=auto -o ControlPersist=60s")
    result, calls = push(bundle_dir, "web2", connection=connection)
    assert [c["state"] for c in calls] == ["prepared", "received"] and result["sent"]
    assert connection.transfers == ["-o Compression=no -o ControlMaster=no -o ControlPath=none"]
    assert connection.options["ssh_args"] == "-C -o ControlMaster=auto -o ControlPersist=60s"
    assert result["_fixups"] == [False]  # the stream is read, never run: no chmod u+x round trip


def test_ssh_compression_true_keeps_the_task_connection(bundle_dir):
    connection = SshConnection("-C -o ControlMaster=auto -o ControlPersist=60s")
    push(bundle_dir, "web2", connection=connection, args={"ssh_compression": True})
    assert connection.transfers == ["-C -o ControlMaster=auto -o ControlPersist=60s"]


def test_ssh_args_without_compression_keep_the_shared_master(bundle_dir):
    connection = SshConnection("-o ControlMaster=auto -o ControlPersist=60s")
    push(bundle_dir, "web2", connection=connection)
    assert connection.transfers == ["-o ControlMaster=auto -o ControlPersist=60s"]


def test_a_flag_that_is_not_a_boolean_is_named(bundle_dir):
    result, calls = push(bundle_dir, "web2", args={"ssh_compression": "sometimes"})
    assert result["failed"] and "sometimes" in result["msg"] and "ssh_compression" in result["msg"] and calls == []


def test_hosts_that_lack_the_same_files_are_sent_one_stream_written_once(bundle_dir, streams_of_this_test):
    _result, first = push(bundle_dir, "web2")
    _result, second = push(bundle_dir, "web2")
    streams = [path for path in os.listdir(streams_of_this_test / ("airgap-pymigrate-streams-%d" % os.getuid()))
               if path.endswith(".tar")]
    assert len(streams) == 1 and [c["state"] for c in first + second] == ["prepared", "received"] * 2


def test_a_failed_receive_discards_the_stream_so_the_next_push_writes_it_again(bundle_dir, streams_of_this_test):
    result, _calls = push(bundle_dir, "web2", receive_fails=True)
    assert result["failed"] and result["sent"] == []
    directory = streams_of_this_test / ("airgap-pymigrate-streams-%d" % os.getuid())
    assert not [path for path in os.listdir(directory) if path.endswith(".tar")]


def test_with_pipelining_the_host_python_receives_the_stream_without_a_module(bundle_dir, tmp_path):
    # The receiver program (module_utils/_store.py) runs here as the host's Python would run it: the real bytes go
    # into the store, verified, and the stream's directory is gone with it, so the action removes nothing after.
    store, remote = tmp_path / "host-store", str(tmp_path / "host-tmp")
    result, calls = push(bundle_dir, "web2", args={"store_dir": str(store)}, remote_dir=remote)
    assert [c["state"] for c in calls] == ["prepared", "received (program)"]
    assert calls[1]["cmd"] == "%s -" % sys.executable
    assert result["changed"] and not result.get("failed") and not os.path.exists(remote)
    assert "removed_tmp" not in result
    for path in result["sent"]:
        with open(os.path.join(bundle_dir, path), "rb") as sent, open(store / path, "rb") as arrived:
            assert sent.read() == arrived.read()


def test_a_stream_the_host_python_refuses_fails_the_push_and_is_discarded(bundle_dir, tmp_path, streams_of_this_test):
    manifest = _manifest.read(bundle_dir)
    wanted = _manifest.host_files(manifest, "web2")
    with open(os.path.join(bundle_dir, wanted[0]["path"]), "r+b") as handle:  # same size, other bytes
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 0xFF]))
    store, remote = tmp_path / "host-store", str(tmp_path / "host-tmp")
    result, _calls = push(bundle_dir, "web2", args={"store_dir": str(store)}, remote_dir=remote)
    assert result["failed"] and "arrived with sha256" in result["msg"] and str(store) in result["msg"]
    assert result["sent"] == [] and not os.path.exists(remote)
    directory = streams_of_this_test / ("airgap-pymigrate-streams-%d" % os.getuid())
    assert not [path for path in os.listdir(directory) if path.endswith(".tar")]


def test_with_pipelining_and_a_known_interpreter_the_listing_is_a_program_too(bundle_dir, tmp_path):
    # ansible_python_interpreter set: no module at all - the listing (_rollout_check.prepare_push) and the receiver
    # run as programs of this machine's Python, standing in for the host's, with the real store.
    store, remote = tmp_path / "host-store", str(tmp_path / "host-tmp")
    result, calls = push(bundle_dir, "web2", args={"store_dir": str(store)}, remote_dir=remote,
                         task_vars={"ansible_python_interpreter": sys.executable})
    assert [c["state"] for c in calls] == ["received (program)", "received (program)"]  # no _execute_module
    assert calls[0]["cmd"] == "%s -" % sys.executable
    wanted = [item["path"] for item in _manifest.host_files(_manifest.read(bundle_dir), "web2")]
    assert result["changed"] and not result.get("failed") and result["asked_host"] and result["sent"] == wanted
    assert os.path.isdir(store) and not os.listdir(remote)  # the listing made the stream's dir, the receiver removed it
    for path in wanted:
        with open(os.path.join(bundle_dir, path), "rb") as sent, open(store / path, "rb") as arrived:
            assert sent.read() == arrived.read()
    again, calls = push(bundle_dir, "web2", args={"store_dir": str(store)}, remote_dir=remote,
                        task_vars={"ansible_python_interpreter": sys.executable})
    assert len(calls) == 1 and again["sent"] == [] and again["present"] == len(wanted) and not again["changed"]


def test_without_a_known_interpreter_the_listing_is_the_module_that_discovers_it(bundle_dir, tmp_path):
    # ansible_python_interpreter unset (auto): the module's own path, where Ansible discovers the interpreter.
    result, calls = push(bundle_dir, "web2", args={"store_dir": str(tmp_path / "s")}, remote_dir=str(tmp_path / "r"))
    assert calls[0]["state"] == "prepared" and not result.get("failed")
