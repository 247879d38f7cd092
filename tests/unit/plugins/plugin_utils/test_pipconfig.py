"""pip's own index configuration on the control node: files in pip's order, sections, environment, refusals."""

import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _pipconfig
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

MIRROR = "https://mirror.example.invalid/simple"


def conf(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def settings(files=(), **environ):
    return _pipconfig.pip_index_settings(environ, config_files=list(files))


def test_default_when_nothing_is_set(tmp_path):
    empty = conf(tmp_path, "pip.conf", "[global]\ntimeout = 60\nindex-url =\n")
    got = settings([empty, str(tmp_path / "missing.conf")])
    assert got == _pipconfig.PipIndexSettings(_pipconfig.default_index_url(), (), (), (), _pipconfig.DEFAULT_SOURCE)
    assert got.source == "pip's default (the public index)"


def test_file_values_and_source(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\nindex-url = %s\nfind-links = /srv/wheels\n  /srv/more\n"
                "constraint = /etc/constraints.txt\n" % MIRROR)
    got = settings([path])
    assert (got.index_url, got.find_links, got.constraints) == (MIRROR, ("/srv/wheels", "/srv/more"),
                                                                ("/etc/constraints.txt",))
    assert got.source == "%s [global]" % path


def test_environment_overrides_files(tmp_path):
    path = conf(tmp_path, "pip.conf", "[install]\nindex-url = https://file.example.invalid/simple\n"
                "extra-index-url = https://x.example.invalid/simple\n")
    got = settings([path], PIP_INDEX_URL=MIRROR,
                   PIP_EXTRA_INDEX_URL="https://a.example.invalid/ https://b.example.invalid/",
                   PIP_FIND_LINKS="/srv/wheels", PIP_CONSTRAINT="/c.txt")
    assert got.index_url == MIRROR
    assert got.extra_index_urls == ("https://a.example.invalid/", "https://b.example.invalid/")
    assert (got.find_links, got.constraints) == (("/srv/wheels",), ("/c.txt",))
    assert got.source == ("PIP_INDEX_URL in the environment and PIP_EXTRA_INDEX_URL in the environment and "
                          "PIP_FIND_LINKS in the environment and PIP_CONSTRAINT in the environment")
    # an empty variable does not count, as in pip
    assert settings([path], PIP_INDEX_URL="").index_url == "https://file.example.invalid/simple"


def test_later_file_overrides_earlier(tmp_path):
    first = conf(tmp_path, "a/pip.conf", "[global]\nindex-url = https://first.example.invalid/simple\n"
                 "find-links = /first\n")
    second = conf(tmp_path, "b/pip.conf", "[global]\nindex-url = %s\n" % MIRROR)
    got = settings([first, second])
    assert (got.index_url, got.find_links) == (MIRROR, ("/first",))
    assert got.source == "%s [global] and %s [global]" % (second, first)


def test_install_overrides_global_across_files(tmp_path):
    same = conf(tmp_path, "a/pip.conf", "[global]\nindex-url = https://global.example.invalid/simple\n"
                "[install]\nindex-url = %s\n[download]\nindex-url = https://download.example.invalid/simple\n"
                % MIRROR)
    assert settings([same]).index_url == MIRROR
    assert settings([same]).source == "%s [install]" % same
    # pip pools sections over all files: [install] anywhere beats [global] in a later file
    later = conf(tmp_path, "b/pip.conf", "[global]\nindex-url = https://later.example.invalid/simple\n")
    assert settings([same, later]).index_url == MIRROR


def test_dash_and_underscore_names(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\nINDEX_URL = https://x.example.invalid/simple\n"
                "pypi-url = %s\n" % MIRROR)
    assert settings([path]).index_url == MIRROR  # pypi-url is another name of index-url; the later one wins
    path = conf(tmp_path, "pip.conf", "[global]\nindex-url = %s\nindex_url = https://x.example.invalid/\n" % MIRROR)
    with pytest.raises(PyMigrateError, match="cannot be parsed"):  # one option twice in a section, as pip says
        settings([path])
    path = conf(tmp_path, "pip.conf", "[global]\nINDEX_URL = %s\nextra_index_url = https://x.example.invalid/\n"
                % MIRROR)
    got = settings([path])
    assert (got.index_url, got.extra_index_urls) == (MIRROR, ("https://x.example.invalid/",))
    assert settings([], PIP_PYPI_URL=MIRROR).index_url == MIRROR


def test_extra_index_urls_multiline(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\nextra-index-url =\n    https://a.example.invalid/simple\n"
                "    https://b.example.invalid/simple  https://c.example.invalid/simple\n")
    got = settings([path])
    assert got.extra_index_urls == ("https://a.example.invalid/simple", "https://b.example.invalid/simple",
                                    "https://c.example.invalid/simple")
    assert got.index_url == _pipconfig.default_index_url()
    assert got.source == "%s and %s [global]" % (_pipconfig.DEFAULT_SOURCE, path)


def test_file_url_kept_and_ignored_options(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\nindex-url = file:///srv/index/\ntimeout = 5\nretries = 9\n"
                "disable-pip-version-check = true\nno-cache-dir = true\nprogress-bar = off\nquiet = 1\n"
                "verbose = 2\nno-index = false\npre = no\nonly-binary = :none:\n[download]\ntrusted-host = x\n")
    assert settings([path]).index_url == "file:///srv/index/"


def test_config_files_in_pips_order(tmp_path):
    env = {"HOME": "/home/u"}
    assert _pipconfig.pip_config_files(env, prefix="/venv") == [
        "/etc/xdg/pip/pip.conf", "/etc/pip.conf", "/home/u/.pip/pip.conf", "/home/u/.config/pip/pip.conf",
        "/venv/pip.conf"]
    env = {"HOME": "/home/u", "XDG_CONFIG_DIRS": "/opt/xdg:relative:/usr/xdg", "XDG_CONFIG_HOME": "/cfg",
           "PIP_CONFIG_FILE": str(tmp_path / "absent.conf")}
    assert _pipconfig.pip_config_files(env, prefix="/venv") == [
        "/opt/xdg/pip/pip.conf", "/usr/xdg/pip/pip.conf", "/etc/pip.conf", "/home/u/.pip/pip.conf",
        "/cfg/pip/pip.conf", "/venv/pip.conf", str(tmp_path / "absent.conf")]
    # an existing PIP_CONFIG_FILE replaces the user files, as in pip
    env["PIP_CONFIG_FILE"] = conf(tmp_path, "extra.conf", "")
    assert _pipconfig.pip_config_files(env, prefix="/venv") == [
        "/opt/xdg/pip/pip.conf", "/usr/xdg/pip/pip.conf", "/etc/pip.conf", "/venv/pip.conf", env["PIP_CONFIG_FILE"]]


def test_pip_config_file_is_read_last(tmp_path):
    home = tmp_path / "home"
    conf(home, ".config/pip/pip.conf", "[global]\nfind-links = /user\n")
    site = conf(tmp_path, "venv/pip.conf", "[global]\nindex-url = https://site.example.invalid/simple\n")
    xdg = conf(tmp_path, "xdg/pip/pip.conf", "[global]\nindex-url = https://xdg.example.invalid/simple\n")
    extra = conf(tmp_path, "extra.conf", "[global]\nindex-url = %s\n" % MIRROR)
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "xdg"), "PIP_CONFIG_FILE": extra}
    files = _pipconfig.pip_config_files(env, prefix=str(tmp_path / "venv"))
    ours = [path for path in files if path.startswith(str(tmp_path))]  # not the real /etc/pip.conf
    assert ours == [xdg, site, extra]
    got = _pipconfig.pip_index_settings(env, config_files=ours)
    assert (got.index_url, got.find_links) == (MIRROR, ())  # and the user file is not read
    assert _pipconfig.pip_index_settings(env, config_files=ours[:2]).index_url == "https://site.example.invalid/simple"


def test_pip_config_file_devnull_loads_nothing(tmp_path):
    home = tmp_path / "home"
    conf(home, ".config/pip/pip.conf", "[global]\nindex-url = %s\ntrusted-host = x\n" % MIRROR)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "PIP_CONFIG_FILE": os.devnull}
    assert _pipconfig.pip_config_files(env) == []
    got = _pipconfig.pip_index_settings(env)
    assert (got.index_url, got.source) == (_pipconfig.default_index_url(), _pipconfig.DEFAULT_SOURCE)
    assert _pipconfig.pip_index_settings(dict(env, PIP_INDEX_URL=MIRROR)).index_url == MIRROR


@pytest.mark.parametrize("option, value, hint", [
    ("no-index", "true", "pymigrate_index_url"),
    ("trusted-host", "mirror.example.invalid", "pymigrate_index_ca_bundle"),
    ("client-cert", "/etc/ssl/me.pem", "pymigrate_index_ca_bundle"),
    ("proxy", "http://proxy.example.invalid:3128", "HTTPS_PROXY"),
    ("require-hashes", "yes", "Remove it"),
    ("only-binary", ":all:", "pymigrate_build_sdists"),
    ("no-binary", "numpy", "pymigrate_build_sdists"),
    ("pre", "1", "pymigrate_allow_prereleases"),
    ("uploaded-prior-to", "P3D", "pymigrate_uploaded_prior_to"),
    ("keyring-provider", "subprocess", "pymigrate_index_token"),
])
def test_refused_options_name_option_where_and_value(tmp_path, option, value, hint):
    path = conf(tmp_path, "pip.conf", "[global]\nindex-url = %s\n[install]\n%s = %s\n"
                % (MIRROR, option.replace("-", "_"), value))
    with pytest.raises(PyMigrateError) as caught:
        settings([path])
    text = str(caught.value)
    assert "sets %s in %s [install]" % (option, path) in text and repr(value) in text and hint in text
    assert (caught.value.var, caught.value.value) == (option, value)
    env_name = "PIP_" + option.upper().replace("-", "_")
    with pytest.raises(PyMigrateError, match="%s in the environment" % env_name):
        settings([], **{env_name: value})


def test_every_refused_option_is_refused():
    for option, _reason, _hint in _pipconfig.REFUSED_OPTIONS:
        with pytest.raises(PyMigrateError, match=option):
            settings([], **{"PIP_" + option.upper().replace("-", "_"): "true"})


def test_refusals_see_only_effective_values(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\nno-index = true\n[install]\nno-index = false\n")
    assert settings([path]).index_url == _pipconfig.default_index_url()
    assert settings([path], PIP_NO_INDEX="off").index_url == _pipconfig.default_index_url()
    with pytest.raises(PyMigrateError, match="PIP_NO_INDEX in the environment"):
        settings([path], PIP_NO_INDEX="1")
    with pytest.raises(PyMigrateError, match="not a boolean") as caught:
        settings([], PIP_PRE="maybe")
    assert caught.value.value == "maybe"


def test_proxy_credentials_never_reach_the_message():
    with pytest.raises(PyMigrateError) as caught:
        settings([], PIP_PROXY="http://ops:s3cret@proxy.example.invalid:3128")
    assert "s3cret" not in str(caught.value) and "proxy.example.invalid:3128" in str(caught.value)


def test_unparsable_file_names_the_file(tmp_path):
    path = conf(tmp_path, "pip.conf", "index-url = %s\n" % MIRROR)
    with pytest.raises(PyMigrateError, match="pip's configuration file %s cannot be parsed" % path):
        settings([path])


def test_describe_redacts_credentials(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\nindex-url = https://ops:s3cret@mirror.example.invalid/simple\n"
                "extra-index-url = https://tok:t0ken@extra.example.invalid/simple\nfind-links = file:///srv/w\n")
    line = _pipconfig.describe(settings([path]))
    assert "s3cret" not in line and "t0ken" not in line and "ops" not in line
    assert line == ("using index https://mirror.example.invalid/simple, extra indexes "
                    "https://extra.example.invalid/simple, find-links file:///srv/w (from %s [global])" % path)
    assert _pipconfig.describe(settings([])) == ("using index %s (from pip's default (the public index))"
                                                 % _pipconfig.default_index_url())


def test_cert_becomes_the_ca_bundle(tmp_path):
    path = conf(tmp_path, "pip.conf", "[global]\ncert = /etc/ssl/corp.pem\n")
    assert settings([path]).ca_bundle == "/etc/ssl/corp.pem"
    assert settings([path], PIP_CERT="/etc/ssl/other.pem").ca_bundle == "/etc/ssl/other.pem"
    assert settings([]).ca_bundle is None
