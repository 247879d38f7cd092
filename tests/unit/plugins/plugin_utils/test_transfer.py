"""The push's stream travels without SSH compression: which ssh_args compress, and what the one-shot connection
keeps of them."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _store
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _hostprogram, _transfer

ONE_SHOT = " -o Compression=no -o ControlMaster=no -o ControlPath=none"


@pytest.mark.parametrize("ssh_args, expected", [
    # Ansible's default: compression and the shared master both go.
    ("-C -o ControlMaster=auto -o ControlPersist=60s", ONE_SHOT.strip()),
    # Other options stay, in order; -C among other flags and -oName=value spellings are understood.
    ("-qC -oCompression=yes -o ServerAliveInterval=5 -o 'ProxyCommand=ssh -W %h:%p jump'",
     "-q -o ServerAliveInterval=5 -o 'ProxyCommand=ssh -W %h:%p jump'" + ONE_SHOT),
    ("-o compression=YES -o ControlPath=/run/cp/%C", ONE_SHOT.strip()),
    # ssh also takes "-o 'Name value'".
    ("-o 'Compression yes' -o 'ControlMaster auto' -o 'ServerAliveInterval 5'",
     "-o 'ServerAliveInterval 5'" + ONE_SHOT),
])
def test_compressing_ssh_args_become_a_one_shot_uncompressed_connection(ssh_args, expected):
    assert _transfer.uncompressed_ssh_args(ssh_args) == expected


@pytest.mark.parametrize("ssh_args", ["", None, "-o ControlMaster=auto -o ControlPersist=60s", "-o Compression=no",
                                      "-c aes128-gcm@openssh.com -F /etc/ssh/Cfg"])
def test_ssh_args_that_do_not_compress_are_left_alone(ssh_args):
    assert _transfer.uncompressed_ssh_args(ssh_args) is None


class Connection:
    def __init__(self, transport, ssh_args):
        self.transport, self.options = transport, {"ssh_args": ssh_args}

    def get_option(self, name):
        return self.options[name]

    def set_option(self, name, value):
        self.options[name] = value


def test_the_connection_options_are_restored_even_when_the_transfer_fails():
    connection = Connection("ssh", "-C -o ControlMaster=auto")
    with pytest.raises(OSError):
        with _transfer.without_compression(connection) as changed:
            assert changed and connection.options["ssh_args"] == ONE_SHOT.strip()
            raise OSError("transfer failed")
    assert connection.options["ssh_args"] == "-C -o ControlMaster=auto"


def test_other_connection_plugins_are_not_touched():
    connection = Connection("paramiko", "-C")
    with _transfer.without_compression(connection) as changed:
        assert not changed and connection.options["ssh_args"] == "-C"


def test_the_stream_of_the_same_files_is_written_once_for_every_host_at_once(tmp_path):
    """48 hosts lacking the same 55 MB wrote the same tar 48 times; now the first push writes it while the others
    wait, then all send the one file."""
    import threading  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel

    files = [{"path": "files/b.whl", "sha256": "b" * 64, "size": 1}, {"path": "files/a.whl", "sha256": "a" * 64}]
    writes, paths = [], []

    def write(path):
        writes.append(path)
        time.sleep(0.2)  # the other pushes arrive while it writes
        with open(path, "w") as handle:
            handle.write("tar")

    def push():
        paths.append(_transfer.shared_stream(_transfer.stream_key(files), write, root=str(tmp_path)))

    threads = [threading.Thread(target=push) for _number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(writes) == 1 and len(set(paths)) == 1 and open(paths[0]).read() == "tar"
    assert _transfer.stream_key(list(reversed(files))) == _transfer.stream_key(files)
    assert _transfer.stream_key([dict(files[0], sha256="c" * 64), files[1]]) != _transfer.stream_key(files)


def test_a_stream_unused_for_an_hour_is_removed_and_a_failed_write_leaves_nothing(tmp_path):
    import os  # pylint: disable=import-outside-toplevel

    directory = _transfer.streams_dir(str(tmp_path))
    old = os.path.join(directory, "old.tar")
    open(old, "w").close()
    os.utime(old, (1, 1))

    def broken(path):
        open(path, "w").close()
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _transfer.shared_stream("k", broken, root=str(tmp_path))
    assert sorted(os.listdir(directory)) == ["k.tar.lock", "old.tar"]
    _transfer.shared_stream("k", lambda path: open(path, "w").close(), root=str(tmp_path))
    assert sorted(os.listdir(directory)) == ["k.tar", "k.tar.lock"]


def test_a_streams_directory_others_can_write_is_refused(tmp_path):
    import os  # pylint: disable=import-outside-toplevel

    directory = _transfer.streams_dir(str(tmp_path))
    os.chmod(directory, 0o777)
    with pytest.raises(_transfer.PyMigrateError, match="only this user"):
        _transfer.streams_dir(str(tmp_path))


def _one_file_stream(tmp_path, data):
    sha = hashlib.sha256(data).hexdigest()
    item = {"path": _store.store_relpath(sha, "demo-1.0-py3-none-any.whl"), "sha256": sha, "size": len(data)}
    incoming = tmp_path / "remote-tmp"
    incoming.mkdir()
    with tarfile.open(incoming / "pymigrate-push.tar", "w") as tar:
        info = tarfile.TarInfo(item["path"])
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return item, str(incoming / "pymigrate-push.tar")


def _run_receiver(arguments, home):
    # As the host runs it: its Python reads the program (_hostprogram, _store.receive_pushed) from standard input,
    # in isolated mode, with the host's HOME.
    program = _hostprogram.program(_store.__name__, "receive_pushed", arguments, {"store_dir": True}, False)
    done = subprocess.run([sys.executable, "-I", "-"], input=program, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=dict(os.environ, HOME=str(home)), check=True)
    return json.loads(done.stdout)


def test_the_receiver_program_verifies_the_stream_into_the_store_and_removes_it(tmp_path):
    item, stream = _one_file_stream(tmp_path, b"wheel bytes")
    # "~" is expanded where the program runs (the host), as wheel_store's path option is.
    result = _run_receiver({"store_dir": "~/store", "src": stream, "files": [item]}, home=tmp_path)
    assert result == {"changed": True, "received": [item["path"]], "removed_tmp": True}
    with open(tmp_path / "store" / item["path"], "rb") as handle:
        assert handle.read() == b"wheel bytes"
    assert not os.path.exists(os.path.dirname(stream))


def test_the_receiver_program_refuses_other_bytes_names_the_store_and_still_removes_the_stream(tmp_path):
    item, stream = _one_file_stream(tmp_path, b"wheel bytes")
    item = dict(item, sha256=hashlib.sha256(b"other bytes").hexdigest())
    result = _run_receiver({"store_dir": str(tmp_path / "store"), "src": stream, "files": [item]}, home=tmp_path)
    assert result["failed"] and "arrived with sha256" in result["msg"] and str(tmp_path / "store") in result["msg"]
    assert not os.path.exists(tmp_path / "store" / item["path"]) and not os.path.exists(os.path.dirname(stream))
    assert result["removed_tmp"]


def test_a_directory_the_receiver_cannot_remove_is_reported_left_for_the_push_to_remove(tmp_path):
    item, stream = _one_file_stream(tmp_path, b"wheel bytes")
    (tmp_path / "remote-tmp" / "left-by-another-user").write_text("")  # the directory is not empty: not removed
    result = _run_receiver({"store_dir": str(tmp_path / "store"), "src": stream, "files": [item]}, home=tmp_path)
    assert result["received"] == [item["path"]] and result["removed_tmp"] is False and not os.path.exists(stream)
