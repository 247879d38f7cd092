"""The push's stream travels without SSH compression: which ssh_args compress, and what the one-shot connection
keeps of them."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _transfer

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
