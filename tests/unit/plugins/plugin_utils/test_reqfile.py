"""pip's requirements-file format read on the control node; everything refused names file, line, host and var."""


import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._reqfile import (
    RequirementsFile,
    as_layer,
    read_requirements_file,
)

HOST = "web1"
VAR = "pymigrate_requirements_file"
HEX_A = "a" * 64
HEX_B = "0123456789abcdef" * 4


def write(directory, name, text, encoding="utf-8"):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def read(path, **kwargs):
    return read_requirements_file(path, host=HOST, var=VAR, **kwargs)


def refused(path, *, line, text=None, file=None, match=None, **kwargs):
    """Read ``path`` expecting an error that names the file, the line number, the line, the host and the var."""
    with pytest.raises(PyMigrateError) as info:
        read(path, **kwargs)
    return check(info.value, file or path, line, text, match)


def refused_unshown(path, *, file, line, hidden, include):
    """Read ``path`` expecting an error on line ``line`` of the included ``file``: it names the file, the line and the
    include, never the line itself (``hidden``): an include may name any file the control node can read."""
    with pytest.raises(PyMigrateError) as info:
        read(path)
    message = str(info.value)
    assert "requirements file %s, line %d (included by " % (file, line) in message, message
    assert hidden not in message and info.value.value == include, message
    return message


def check(err, file, line, text, match):
    message = str(err)
    assert "requirements file %s, line %d:" % (file, line) in message, message
    assert "host %s" % HOST in message and "variable %s" % VAR in message, message
    assert err.host == HOST and err.var == VAR
    if text is not None:
        assert err.value == text, message
    if match is not None:
        assert match.lower() in message.lower(), message
    return message


# --- what is read ---------------------------------------------------------------------------------------------------

def test_plain_requirements_are_normalized_and_keep_markers(tmp_path):
    path = write(tmp_path, "requirements.txt",
                 "Requests>=2.31,<3\n"
                 "Foo_Bar[Zed,alpha] == 1.0\n"
                 "plain\n"
                 'tomli>=1.1 ; python_version < "3.11"\n')
    rf = read(path)
    assert isinstance(rf, RequirementsFile)
    assert rf.requirements == (
        ("requests", "requests<3,>=2.31", ()),
        ("foo-bar", "foo-bar[Zed,alpha]==1.0", ()),
        ("plain", "plain", ()),
        ("tomli", 'tomli>=1.1; python_version < "3.11"', ()),
    )
    assert rf.constraints == ()
    assert rf.path == path and rf.host == HOST and rf.var == VAR


def test_result_is_frozen_and_hashable(tmp_path):
    rf = read(write(tmp_path, "r.txt", "a\n"))
    with pytest.raises(AttributeError):
        rf.requirements = ()
    assert hash(rf) == hash(read(write(tmp_path, "r.txt", "a\n")))


def test_comments_and_blank_lines(tmp_path):
    path = write(tmp_path, "r.txt",
                 "# a comment\n"
                 "\n"
                 "   \n"
                 "   # indented comment\n"
                 "alpha==1  # trailing comment\n"
                 "beta\t# tab then hash\n")
    assert [entry[0] for entry in read(path).requirements] == ["alpha", "beta"]


def test_hash_without_whitespace_is_not_a_comment(tmp_path):
    path = write(tmp_path, "r.txt", "\n\nalpha#frag\n")
    refused(path, line=3, text="alpha#frag", match="not a valid requirement")


def test_line_continuation_and_hashes(tmp_path):
    path = write(tmp_path, "r.txt",
                 "alpha==1.0 \\\n"
                 "    --hash=sha256:%s \\\n"
                 "    --hash sha256:%s\n"
                 "beta\\\n"
                 ">=2\n" % (HEX_A.upper(), HEX_B))
    rf = read(path)
    assert rf.requirements == (
        ("alpha", "alpha==1.0", ("sha256:" + HEX_A, "sha256:" + HEX_B)),
        ("beta", "beta>=2", ()),
    )
    assert rf.origin("requirement", "beta")[:2] == (path, 4)


def test_a_comment_line_ends_a_continuation_as_pip_does(tmp_path):
    # pip-compile --annotate writes this: the backslash before "# via" must not swallow the next requirement.
    path = write(tmp_path, "r.txt",
                 "alpha==1.0 \\\n"
                 "    --hash=sha256:%s \\\n"
                 "    # via beta\n"
                 "beta==2.0\n" % HEX_A)
    rf = read(path)
    assert rf.requirements == (("alpha", "alpha==1.0", ("sha256:" + HEX_A,)), ("beta", "beta==2.0", ()))


def test_comments_are_stripped_after_joining(tmp_path):
    # "# x \" does not end with a comment match at its start, so it continues; the comment then eats the rest.
    path = write(tmp_path, "r.txt", "alpha  # note \\\nbeta\ngamma\n")
    assert [entry[0] for entry in read(path).requirements] == ["alpha", "gamma"]


def test_backslash_on_the_last_line(tmp_path):
    assert read(write(tmp_path, "r.txt", "alpha>=1\\")).requirements == (("alpha", "alpha>=1", ()),)


def test_duplicate_hashes_collapse_in_order(tmp_path):
    path = write(tmp_path, "r.txt", "a --hash=sha256:%s --hash=sha256:%s --hash=SHA256:%s\n" % (HEX_B, HEX_A, HEX_B))
    assert read(path).requirements[0][2] == ("sha256:" + HEX_B, "sha256:" + HEX_A)


def test_encoding_bom_and_pep263(tmp_path):
    assert read(write(tmp_path, "bom.txt", b"\xef\xbb\xbfalpha\n")).requirements[0][0] == "alpha"
    latin = write(tmp_path, "latin.txt", "# -*- coding: latin-1 -*-\n# caf\u00e9\nalpha\n", encoding="latin-1")
    assert read(latin).requirements[0][0] == "alpha"


def test_undecodable_file_is_refused(tmp_path):
    path = write(tmp_path, "r.txt", b"alpha\n# \xff\xfe\n")
    with pytest.raises(PyMigrateError) as info:
        read(path)
    assert path in str(info.value) and info.value.host == HOST and info.value.var == VAR


# --- includes ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line", ["-r sub/more.txt", "--requirement sub/more.txt", "--requirement=sub/more.txt",
                                  "-rsub/more.txt", '-r "sub/more.txt"'])
def test_requirement_includes_every_spelling(tmp_path, line):
    write(tmp_path, "sub/more.txt", "beta\n")
    path = write(tmp_path, "r.txt", "alpha\n%s\ngamma\n" % line)
    assert [entry[0] for entry in read(path).requirements] == ["alpha", "beta", "gamma"]


def test_includes_are_relative_to_the_including_file(tmp_path):
    write(tmp_path, "a/b/c.txt", "gamma\n-r ../d.txt\n")
    write(tmp_path, "a/d.txt", "delta\n")
    write(tmp_path, "a/b.txt", "-r b/c.txt\n")
    path = write(tmp_path, "top.txt", "-r a/b.txt\n")
    rf = read(path)
    assert [entry[0] for entry in rf.requirements] == ["gamma", "delta"]
    assert rf.origin("requirement", "delta") == (str(tmp_path / "a" / "d.txt"), 1, "delta")


def test_top_file_relative_to_base_dir(tmp_path, monkeypatch):
    write(tmp_path, "inv/reqs.txt", "alpha\n")
    rf = read("reqs.txt", base_dir=str(tmp_path / "inv"))
    assert rf.path == str(tmp_path / "inv" / "reqs.txt")
    monkeypatch.chdir(tmp_path / "inv")
    assert read("reqs.txt").requirements == rf.requirements


def test_constraint_includes_and_r_inside_constraints_stays_constraint(tmp_path):
    write(tmp_path, "c/more.txt", "delta<4\n")
    write(tmp_path, "c/cons.txt", "beta<2\n-r more.txt\n-c other.txt\n")
    write(tmp_path, "c/other.txt", "epsilon!=1.5\n")
    write(tmp_path, "c2.txt", "zeta>1\n")
    path = write(tmp_path, "r.txt", "alpha\n-c c/cons.txt\n--constraint c2.txt\nbeta\n")
    rf = read(path)
    assert rf.requirements == (("alpha", "alpha", ()), ("beta", "beta", ()))
    assert rf.constraints == (("beta", "beta<2", ()), ("delta", "delta<4", ()), ("epsilon", "epsilon!=1.5", ()),
                              ("zeta", "zeta>1", ()))


def test_constraint_with_hashes(tmp_path):
    write(tmp_path, "c.txt", "beta==2 --hash=sha256:%s\n" % HEX_A)
    rf = read(write(tmp_path, "r.txt", "--constraint=c.txt\n"))
    assert rf.constraints == (("beta", "beta==2", ("sha256:" + HEX_A,)),)


def test_same_file_included_twice_is_fine(tmp_path):
    write(tmp_path, "common.txt", "alpha==1\n")
    write(tmp_path, "x.txt", "-r common.txt\n")
    path = write(tmp_path, "r.txt", "-r common.txt\n-r x.txt\n")
    assert read(path).requirements == (("alpha", "alpha==1", ()),)


def test_include_cycle_is_refused_naming_the_chain(tmp_path):
    a = str(tmp_path / "a.txt")
    b = write(tmp_path, "b.txt", "beta\n-r a.txt\n")
    write(tmp_path, "a.txt", "alpha\n-r b.txt\n")
    refused_unshown(a, file=b, line=2, hidden="-r a.txt", include="-r b.txt")


def test_self_include_and_constraint_cycle(tmp_path):
    path = write(tmp_path, "r.txt", "\n-c r.txt\n")
    message = refused(path, line=2, text="-c r.txt", match="include cycle")
    assert "%s -> %s" % (path, path) in message


def test_missing_included_file_names_the_include_line(tmp_path):
    path = write(tmp_path, "r.txt", "alpha\n-r nowhere.txt\n")
    message = refused(path, line=2, text="-r nowhere.txt", match="cannot read requirements file")
    assert str(tmp_path / "nowhere.txt") in message


@pytest.mark.parametrize("line", ["-r", "-r a.txt b.txt", "--constraint="])
def test_include_needs_exactly_one_file(tmp_path, line):
    path = write(tmp_path, "r.txt", line + "\n")
    refused(path, line=1, text=line, match="exactly one file")


def test_include_from_a_url_is_refused(tmp_path):
    path = write(tmp_path, "r.txt", "-r https://example.com/r.txt\n")
    refused(path, line=1, text="-r https://example.com/r.txt", match="names a URL")


def test_unbalanced_quote_in_an_option_line(tmp_path):
    path = write(tmp_path, "r.txt", '-r "a.txt\n')
    refused(path, line=1, text='-r "a.txt', match="cannot split")


# --- the file itself --------------------------------------------------------------------------------------------------

def test_missing_file_names_path_host_and_var(tmp_path):
    path = str(tmp_path / "nope.txt")
    with pytest.raises(PyMigrateError) as info:
        read(path)
    message = str(info.value)
    assert "cannot read requirements file %s" % path in message
    assert "host %s" % HOST in message and "variable %s" % VAR in message


def test_directory_is_unreadable(tmp_path):
    with pytest.raises(PyMigrateError) as info:
        read(str(tmp_path))
    assert str(tmp_path) in str(info.value) and info.value.host == HOST and info.value.var == VAR


@pytest.mark.parametrize("value", ["", "  ", None, 3])
def test_path_must_be_a_string(value):
    with pytest.raises(PyMigrateError) as info:
        read(value)
    assert info.value.host == HOST and info.value.var == VAR


# --- environment variables --------------------------------------------------------------------------------------------

def test_environment_variables_expand_from_os_environ(tmp_path, monkeypatch):
    monkeypatch.setenv("PYMIGRATE_TEST_VERSION", "2.31.0")
    monkeypatch.setenv("SUB_DIR", "sub")
    write(tmp_path, "sub/x.txt", "beta\n")
    path = write(tmp_path, "r.txt", "requests==${PYMIGRATE_TEST_VERSION}\n-r ${SUB_DIR}/x.txt\n")
    assert read(path).requirements == (("requests", "requests==2.31.0", ()), ("beta", "beta", ()))


def test_unset_environment_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("PYMIGRATE_TEST_UNSET", raising=False)
    path = write(tmp_path, "r.txt", "alpha\nrequests==${PYMIGRATE_TEST_UNSET}\n")
    refused(path, line=2, text="requests==${PYMIGRATE_TEST_UNSET}", match="PYMIGRATE_TEST_UNSET is not set")


def test_empty_environment_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PYMIGRATE_TEST_EMPTY", "")
    path = write(tmp_path, "r.txt", "requests${PYMIGRATE_TEST_EMPTY}\n")
    refused(path, line=1, match="PYMIGRATE_TEST_EMPTY is not set")


def test_only_the_upper_case_braced_form_expands(tmp_path, monkeypatch):
    monkeypatch.setenv("lower_name", "1.0")
    monkeypatch.setenv("PLAIN", "1.0")
    refused(write(tmp_path, "a.txt", "alpha==${lower_name}\n"), line=1, match="not a valid requirement")
    refused(write(tmp_path, "b.txt", "alpha==$PLAIN\n"), line=1, match="not a valid requirement")


def test_errors_quote_the_line_before_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("PYMIGRATE_TEST_TOKEN", "s3cret")
    path = write(tmp_path, "r.txt", "--extra-index-url https://u:${PYMIGRATE_TEST_TOKEN}@example.com/simple\n")
    message = refused(path, line=1, text="--extra-index-url https://u:${PYMIGRATE_TEST_TOKEN}@example.com/simple")
    assert "s3cret" not in message


# --- hashes -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("option, match", [
    ("--hash=sha512:" + "a" * 128, "hash algorithm sha512 is not accepted, only sha256"),
    ("--hash=md5:" + "a" * 32, "hash algorithm md5 is not accepted, only sha256"),
    ("--hash=sha384:" + "a" * 96, "only sha256"),
    ("--hash=sha256:abc", "malformed --hash"),
    ("--hash=sha256:" + "g" * 64, "malformed --hash"),
    ("--hash=" + HEX_A, "malformed --hash"),
    ("--hash=whirlpool:" + HEX_A, "malformed --hash"),
    ("--hash", "--hash needs a value"),
])
def test_bad_hashes_are_refused(tmp_path, option, match):
    text = "alpha==1 " + option
    path = write(tmp_path, "r.txt", "# first\n" + text + "\n")
    refused(path, line=2, text=text, match=match)


def test_hash_error_on_a_continued_line_reports_its_first_line(tmp_path):
    path = write(tmp_path, "r.txt", "x\nalpha==1 \\\n  --hash=sha512:%s\n" % ("a" * 128))
    refused(path, line=2, match="only sha256")


# --- refused: options, editables, URLs, paths, direct references --------------------------------------------------

@pytest.mark.parametrize("line, match", [
    ("-e .", "Editable installs and local project paths cannot cross an air gap"),
    ("-e git+https://example.com/x.git#egg=x", "cannot cross an air gap"),
    ("--editable ./src", "cannot cross an air gap"),
    ("-i https://pypi.example/simple", "pymigrate_index_url"),
    ("--index-url https://pypi.example/simple", "pymigrate_index_url"),
    ("--index-url=https://pypi.example/simple", "pymigrate_index_url"),
    ("--extra-index-url https://pypi.example/simple", "pymigrate_extra_index_urls"),
    ("--no-index", "pymigrate_index_url"),
    ("--find-links /srv/wheels", "serve the directory as an index"),
    ("-f /srv/wheels", "serve the directory as an index"),
    ("--no-binary :all:", "pymigrate_build_sdists"),
    ("--only-binary=:all:", "pymigrate_build_sdists"),
    ("--prefer-binary", "pymigrate_build_sdists"),
    ("--pre", "pymigrate_allow_prereleases"),
    ("--trusted-host pypi.example", "pymigrate_index_ca_bundle"),
    ("--use-feature=truststore", "pip's options do not apply"),
    ("--require-hashes", "pip's options do not apply"),
    ("--config-settings key=value", "build settings are not carried"),
])
def test_options_are_refused_with_what_to_do_instead(tmp_path, line, match):
    path = write(tmp_path, "r.txt", "alpha\n\n" + line + "\n")
    message = refused(path, line=3, text=line, match=match)
    assert "is not accepted" in message


@pytest.mark.parametrize("line, match", [
    ("alpha==1 --config-settings key=value", "build settings are not carried"),
    ("alpha==1 --global-option=--x", "build options are not carried"),
    ("alpha==1 --install-option=--prefix=/x", "build options are not carried"),
    ("alpha==1 --hash=sha256:%s -i https://x/simple" % HEX_A, "pymigrate_index_url"),
])
def test_per_requirement_options_other_than_hash_are_refused(tmp_path, line, match):
    path = write(tmp_path, "r.txt", line + "\n")
    refused(path, line=1, text=line, match=match)


@pytest.mark.parametrize("line, match", [
    ("https://example.com/alpha-1.0-py3-none-any.whl", "a URL is not accepted"),
    ("git+https://example.com/alpha.git", "a URL is not accepted"),
    ("file:///srv/alpha-1.0.tar.gz", "a URL is not accepted"),
    ("./downloads/alpha-1.0-py3-none-any.whl", "a local path is not accepted"),
    ("/srv/src/alpha", "a local path is not accepted"),
    ("~/src/alpha", "a local path is not accepted"),
    ("src/alpha", "a local path is not accepted"),
    ("alpha-1.0-py3-none-any.whl", "a local path is not accepted"),
    ("alpha-1.0.tar.gz", "a local path is not accepted"),
    (".", "a local path is not accepted"),
    ("alpha @ https://example.com/alpha-1.0.zip", "direct reference (name @ URL)"),
    ("alpha@ file:///srv/alpha", "direct reference (name @ URL)"),
    ('alpha @ https://example.com/a.zip ; python_version > "3"', "direct reference"),
])
def test_urls_paths_and_direct_references_are_refused(tmp_path, line, match):
    path = write(tmp_path, "r.txt", "beta\n" + line + "\n")
    message = refused(path, line=2, text=line, match=match)
    assert "pymigrate_index_url" in message  # says what to do instead


def test_refusal_inside_an_included_file_names_that_file(tmp_path):
    inner = write(tmp_path, "inc/inner.txt", "ok\n-e ../src\n")
    path = write(tmp_path, "r.txt", "-r inc/inner.txt\n")
    refused_unshown(path, file=inner, line=2, hidden="-e ../src", include="-r inc/inner.txt")


def test_an_included_file_that_is_no_requirements_file_is_never_shown(tmp_path):
    secret = write(tmp_path, "secret", "root:$6$s3cr3t-hash:19000:0:99999:7:::\n")
    path = write(tmp_path, "r.txt", "alpha\n-r %s\n" % secret)
    message = refused_unshown(path, file=secret, line=1, hidden="s3cr3t", include="-r %s" % secret)
    assert "root:" not in message


@pytest.mark.parametrize("line", ["alpha (==1", "alpha >= 1 <", "[extra]", "alpha; python_version <<< '3'"])
def test_malformed_requirements(tmp_path, line):
    refused(write(tmp_path, "r.txt", line + "\n"), line=1, text=line, match="not a valid requirement")


# --- duplicates -------------------------------------------------------------------------------------------------------

def test_duplicate_project_with_different_specs_names_both_lines(tmp_path):
    path = write(tmp_path, "r.txt", "Alpha>=1\nbeta\nalpha==2\n")
    message = refused(path, line=3, text="alpha==2", match="requirement alpha is listed twice with different specs")
    assert "'Alpha>=1' at %s line 1" % path in message


def test_duplicate_across_an_include_names_both_files(tmp_path):
    inner = write(tmp_path, "inner.txt", "alpha<2\n")
    path = write(tmp_path, "r.txt", "alpha>=1\n-r inner.txt\n")
    message = refused_unshown(path, file=inner, line=1, hidden="alpha<2", include="-r inner.txt")
    assert "Keep one line for alpha" in message


def test_duplicate_with_same_spec_and_different_hashes(tmp_path):
    path = write(tmp_path, "r.txt", "alpha==1 --hash=sha256:%s\nalpha==1 --hash=sha256:%s\n" % (HEX_A, HEX_B))
    refused(path, line=2, match="listed twice with different hashes")


def test_identical_duplicates_and_spelling_variants_collapse(tmp_path):
    path = write(tmp_path, "r.txt", "Foo_Bar>=1\nfoo-bar >= 1\nfoo.bar>=1\n")
    assert read(path).requirements == (("foo-bar", "foo-bar>=1", ()),)


def test_duplicate_constraints_conflict_but_requirement_and_constraint_coexist(tmp_path):
    write(tmp_path, "c.txt", "alpha<3\nalpha<4\n")
    path = write(tmp_path, "r.txt", "alpha>=1\n-c c.txt\n")
    refused_unshown(path, file=str(tmp_path / "c.txt"), line=2, hidden="alpha<4", include="-c c.txt")
    write(tmp_path, "c.txt", "alpha<3\n")
    rf = read(path)
    assert rf.requirements == (("alpha", "alpha>=1", ()),) and rf.constraints == (("alpha", "alpha<3", ()),)


# --- as_layer ---------------------------------------------------------------------------------------------------------

def test_as_layer_shapes_for_the_wanted_set(tmp_path):
    write(tmp_path, "c.txt", "beta<2\ngamma[extra]==3 --hash=sha256:%s\ndelta\n" % HEX_A)
    path = write(tmp_path, "r.txt",
                 "alpha[x]>=1 --hash=sha256:%s\n"
                 'tomli ; python_version < "3.11"\n'
                 "-c c.txt\n" % HEX_B)
    requirements, constraints = as_layer(read(path))
    assert requirements == {"alpha": "alpha[x]>=1", "tomli": 'tomli; python_version < "3.11"'}
    assert constraints == {"beta": "<2", "gamma": "==3", "delta": ""}


def test_as_layer_refuses_a_constraint_with_a_marker(tmp_path):
    cons = write(tmp_path, "c.txt", "beta<2\n\nbeta-two<2 ; sys_platform == 'win32'\n")
    rf = read(write(tmp_path, "r.txt", "alpha\n-c c.txt\n"))
    with pytest.raises(PyMigrateError) as info:
        as_layer(rf)
    message = check(info.value, cons, 3, "beta-two<2 ; sys_platform == 'win32'", "can't be layered per target yet")
    assert "constraint beta-two has an environment marker" in message


def test_as_layer_of_an_empty_file(tmp_path):
    assert as_layer(read(write(tmp_path, "r.txt", "# nothing\n"))) == ({}, {})
