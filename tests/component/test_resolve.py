"""Resolution and fetch against the real local index, for targets that differ from the control node."""

import datetime
import json
import os
import subprocess
import sys

import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _fetch, _index, _resolve, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, Target, WantedSet
from tests.index import catalog
from tests.index.fixtures import AUTH


def target(python="3.11", arch="x86_64", libc="glibc", libc_version="2.28"):
    return _targets.target_from_declaration({"python": python, "arch": arch, "libc": libc,
                                             "libc_version": libc_version})


def wanted(*reqs, constraints=None, pre=False):
    from packaging.requirements import Requirement
    return WantedSet({Requirement(r).name.lower(): r for r in reqs}, constraints or {}, pre)


@pytest.fixture
def client(local_index):
    client = _index.IndexClient([_index.IndexConfig(local_index.url)])
    yield client
    client.close()


def pins(tgt, want, client, **kwargs):
    return {p.name: p.version for p in _resolve.resolve(tgt, want, client, **kwargs)}


def test_python_version_marker_follows_the_target_not_the_control_node(client):
    assert "backport-eg" in pins(target("3.9"), wanted("netio"), client)
    assert "backport-eg" not in pins(target("3.13"), wanted("netio"), client)


def test_platform_machine_sys_platform_and_implementation_markers(client):
    assert pins(target("3.12", "aarch64"), wanted("archdep"), client) == {"archdep": "1.0", "armhelper": "1.0"}
    assert pins(target("3.12", "x86_64"), wanted("archdep"), client) == {"archdep": "1.0"}  # no win32, no pypy


def test_extras_requires_python_and_tag_priority(client):
    result = _resolve.resolve(target("3.9"), wanted("webkit[http]", "modernlib", "fastcore==1.0"), client)
    by_name = {p.name: p for p in result}
    assert set(by_name) == {"webkit", "httpish", "alpha", "modernlib", "fastcore"}
    assert by_name["modernlib"].version == "1.0"  # 2.0 requires Python >= 3.11
    assert by_name["webkit"].extras == ("http",)
    assert by_name["fastcore"].file.filename == "fastcore-1.0-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    musl = _resolve.resolve(target("3.12", libc="musl", libc_version="1.2"), wanted("fastcore==1.0"), client)
    assert musl[0].file.filename == "fastcore-1.0-cp312-cp312-musllinux_1_2_x86_64.whl"
    abi3 = _resolve.resolve(target("3.13", "aarch64"), wanted("fastcore"), client)
    assert abi3[0].file.filename == "fastcore-1.1-cp39-abi3-manylinux_2_28_aarch64.whl"


def test_yanked_prereleases_constraints_and_cutoff(client):
    assert pins(target(), wanted("yankee"), client) == {"yankee": "1.0"}
    assert pins(target(), wanted("yankee==1.1"), client) == {"yankee": "1.1"}  # pinned exactly: allowed
    assert pins(target(), wanted("prerel"), client) == {"prerel": "1.0"}
    assert pins(target(), wanted("prerel", pre=True), client) == {"prerel": "2.0rc1"}
    assert pins(target(), wanted("prerel>=2.0rc1"), client) == {"prerel": "2.0rc1"}
    assert pins(target(), wanted("webkit", constraints={"alpha": "<2"}), client)["alpha"] == "1.1"
    assert "shared" not in pins(target(), wanted("alpha", constraints={"shared": "==1.0"}), client)
    cutoff = datetime.datetime(2024, 12, 1, tzinfo=datetime.timezone.utc)
    assert pins(target(), wanted("alpha"), client, uploaded_prior_to=cutoff) == {"alpha": "1.1"}


def test_errors_name_the_chain_the_platforms_and_close_names(client):
    with pytest.raises(PyMigrateError) as err:
        _resolve.resolve(target(), wanted("conflict-a", "conflict-b"), client)
    conflict = ("shared==1.0 (required by conflict-a 1.0) "
                "conflicts with shared==2.0 (required by conflict-b 1.0)")
    assert conflict in str(err.value)
    with pytest.raises(PyMigrateError) as err:
        _resolve.resolve(target("3.12", "aarch64", "musl", "1.2"), wanted("fastcore==1.0"), client)
    message = str(err.value)
    assert "no wheel of fastcore 1.0 fits this profile" in message
    assert "cp312-cp312-musllinux_1_2_aarch64" in message and "cp312-manylinux_2_28_aarch64" in message
    with pytest.raises(PyMigrateError, match="alpah was not found on any index.*Did you mean alpha"):
        _resolve.resolve(target(), wanted("alpah"), client)
    with pytest.raises(PyMigrateError, match="only an sdist"):
        _resolve.resolve(target(), wanted("sdistonly"), client)


def test_metadata_by_pep658_or_range_requests_never_a_full_download(local_index, client):
    before = len(local_index.downloads())
    result = pins(target(), wanted("nometa", "netio"), client)
    assert result["nometa"] == "1.0"
    assert len(local_index.downloads()) == before  # metadata came from .metadata files and ranges
    assert any(rng for _m, path, rng in local_index.requests if path.endswith("nometa-1.0-py3-none-any.whl"))


def test_first_index_wins_and_auth_never_leaks(make_index, local_index_auth):
    shadow = make_index([catalog.release("alpha", "99.0"), catalog.release("onlyshadow", "1.0")])
    primary = _index.IndexConfig(local_index_auth.url, *AUTH)
    client = _index.IndexClient([primary, _index.IndexConfig(shadow.url)])
    assert pins(target(), wanted("alpha"), client) == {"alpha": "2.0"}  # not the shadow's 99.0
    assert pins(target(), wanted("onlyshadow"), client) == {"onlyshadow": "1.0"}
    bad = _index.IndexClient([_index.IndexConfig(local_index_auth.url, "pm", "wrong-password")])
    with pytest.raises(PyMigrateError) as err:
        bad.project_files("alpha")
    assert "401" in str(err.value) and "wrong-password" not in str(err.value)


def test_fetch_verifies_hashes_retries_and_skips_present(make_index, tmp_path):
    index = make_index([catalog.release("solo", "1.0"), catalog.release("pair", "1.0")])
    client = _index.IndexClient([_index.IndexConfig(index.url)], retries=2)
    files = [f for name in ("solo", "pair") for f in client.project_files(name)]
    index.fail_503["solo-1.0-py3-none-any.whl"] = 2
    store = str(tmp_path / "store")
    assert len(_fetch.fetch_all(files, store, client)) == 2
    assert all(file_sha256(_fetch.store_path(store, f)) == f.sha256 for f in files)
    downloads = len(index.downloads())
    assert _fetch.fetch_all(files, store, client) == []  # nothing twice
    assert len(index.downloads()) == downloads
    other = str(tmp_path / "other")
    index.corrupt.add("pair-1.0-py3-none-any.whl")
    with pytest.raises(PyMigrateError, match="does not match the index.*deleted"):
        _fetch.fetch_all(files, other, client)
    leftovers = [name for _d, _s, names in os.walk(other) for name in names if name.startswith("pair")]
    assert leftovers == []


def test_sdist_builds_pure_wheel_and_refuses_platform_one(local_index, client, tmp_path):
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import SdistBuilder
    builder = SdistBuilder(client, str(tmp_path / "store"), str(tmp_path))
    result = _resolve.resolve(target("3.9"), wanted("sdistonly"), client, sdists=builder)
    assert result[0].file.filename == "sdistonly-1.0-py3-none-any.whl" and result[0].built_from_sdist
    with pytest.raises(PyMigrateError, match="cext 1.0 cannot be used: only an sdist, which compiles"):
        _resolve.resolve(target("3.9"), wanted("cext"), client, sdists=builder)
    assert builder.builds == 1  # sdistonly only: cext was refused before any build


def test_same_pins_as_pip_for_the_control_node_itself(local_index, client):
    own = Target(markers=default_environment(), tags=tuple(str(t) for t in sys_tags()))
    reqs = ["webkit[http,socks]", "netio", "modernlib", "fastcore", "archdep", "yankee", "foo-bar-baz"]
    ours = pins(own, wanted(*reqs), client)
    env = dict(os.environ, PIP_CONFIG_FILE="/dev/null", PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    report = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                             "--only-binary=:all:", "--report", "-", "--index-url", local_index.url] + reqs,
                            env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    theirs = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
              for item in json.loads(report)["install"]}
    assert ours == theirs and len(ours) == 11


def test_disk_cache_makes_a_rerun_cheap(local_index, tmp_path):
    want = wanted("webkit[http]", "netio", "nometa")
    first = _index.IndexClient([_index.IndexConfig(local_index.url)], cache_dir=str(tmp_path / "cache"))
    expected = pins(target("3.9"), want, first)
    first.close()
    mark = len(local_index.requests)
    fresh = _index.IndexClient([_index.IndexConfig(local_index.url)], cache_dir=str(tmp_path / "cache"))
    assert pins(target("3.9"), want, fresh) == expected
    assert local_index.requests[mark:] == []  # pages younger than the cache TTL, metadata by hash: no request
    stale = _index.IndexClient([_index.IndexConfig(local_index.url)], cache_dir=str(tmp_path / "cache"), cache_ttl=0)
    assert pins(target("3.9"), want, stale) == expected
    again = local_index.requests[mark:]
    assert again and all(path.startswith("/simple/") for _method, path, _range in again)  # pages revalidated only


def test_unreachable_and_forbidden_indexes_say_so(make_index):
    closed = _index.IndexClient([_index.IndexConfig("http://127.0.0.1:9/simple/")], retries=1)
    with pytest.raises(PyMigrateError, match="package index unreachable at http://127.0.0.1:9/simple/"):
        closed.project_files("alpha")
    index = make_index([catalog.release("solo", "1.0")])
    index.forbidden = True
    with pytest.raises(PyMigrateError, match="403 forbidden.*credentials"):
        _index.IndexClient([_index.IndexConfig(index.url)]).project_files("solo")


def test_a_requirements_file_marker_is_the_targets_and_hashes_choose_the_file(client):
    marked = WantedSet({"netio": "netio", "modernlib": 'modernlib; python_version < "3.11"'})
    assert "modernlib" in pins(target("3.9"), marked, client)
    assert "modernlib" not in pins(target("3.12"), marked, client)  # pip on 3.12 would leave it out too
    alpha_1_0 = [f.sha256 for f in client.project_files("alpha") if f.version == "1.0"]
    hashed = WantedSet({"alpha": "alpha"}, hashes={"alpha": tuple(alpha_1_0)})
    assert pins(target(), hashed, client) == {"alpha": "1.0"}  # 2.0 is newer, but its hash is not allowed
    with pytest.raises(PyMigrateError, match="sha256 is not among the --hash values"):
        _resolve.resolve(target(), WantedSet({"alpha": "alpha==2.0"}, hashes={"alpha": tuple(alpha_1_0)}), client)


# -- sets that cannot fit: refused at once, naming the project that cannot fit, why, and the chain (issue 32) ---------
def _no_fit_catalog(depth=0):
    """leaf: compiled, wheels for cp312 and cp313 only, and its sdist; mid (25 versions) needs it, app==1.0 needs mid;
    ipy (30 versions) is an innocent bystander; with ``depth``, a chain d0 -> d1 -> ... -> leaf as well."""
    release = catalog.release
    cp = [("cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-manylinux2014_x86_64"),
          ("cp313-cp313-manylinux_2_17_x86_64", "cp313-cp313-manylinux2014_x86_64")]
    releases = [release("leaf", "1.%d" % i, tags=cp, sdist=True, platform_sdist=True) for i in range(10)]
    releases += [release("mid", "2.%d" % i, requires=["leaf>=1.0"]) for i in range(25)]
    releases += [release("app", "1.0", requires=["mid>=2.0", "other"])]
    releases += [release("other", "1.%d" % i, requires=["mid"]) for i in range(10)]
    releases += [release("ipy", "3.%d" % i, requires=["dep"]) for i in range(30)] + [release("dep", "1.0")]
    releases += [release("d%d" % i, "1.%d" % j, requires=["d%d>=1.0" % (i + 1) if i + 1 < depth else "leaf"])
                 for i in range(depth) for j in range(3)]
    return releases


FREE_THREADED = {"python": "3.13", "abi": "cp313t", "libc_version": "2.28"}


def test_a_dependency_without_a_fitting_wheel_fails_at_once_naming_it_and_the_chain(make_index):
    import time
    index = make_index(_no_fit_catalog())
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    started = time.monotonic()
    with pytest.raises(_resolve.ResolutionFailed) as err:
        _resolve.resolve(_targets.target_from_declaration(FREE_THREADED), wanted("app==1.0", "ipy"), client,
                         profile="cp313t-manylinux_2_28_x86_64-0123456789")
    elapsed = time.monotonic() - started
    message = str(err.value)
    assert err.value.causes == ("leaf",)
    assert err.value.rounds <= 1 and err.value.explored <= 28  # the old code: 2000 rounds, then "Pin some ..."
    assert message.startswith("cannot satisfy the wanted set for profile cp313t-manylinux_2_28_x86_64-0123456789: "
                              "no version of leaf fits this profile (leaf>=1.0, 10 versions); newest tried: 1.9 to "
                              "1.0: no cp313t wheel (wheels for cp312-cp312, cp313-cp313); only an sdist, and "
                              "pymigrate_build_sdists is off; needed through app==1.0 (wanted) -> mid>=2.0 (from app "
                              "1.0) -> leaf>=1.0 (from mid 2.24 and 24 older versions)")
    ipy_read = [path for _m, path, _r in index.requests if path.startswith("/files/ipy-")]
    assert ipy_read == ["/files/ipy-3.29-py3-none-any.whl.metadata"]  # its newest, found live: not its 29 others
    print("no fitting wheel for leaf: refused in %.2f s, %d requests" % (elapsed, len(index.requests)))


def test_with_a_builder_the_reason_is_an_sdist_that_compiles(make_index, tmp_path):
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import SdistBuilder
    index = make_index(_no_fit_catalog())
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    builder = SdistBuilder(client, str(tmp_path / "store"), str(tmp_path))
    with pytest.raises(_resolve.ResolutionFailed) as err:
        _resolve.resolve(_targets.target_from_declaration(FREE_THREADED), wanted("app==1.0"), client, sdists=builder)
    assert "no cp313t wheel" in str(err.value) and "compiles" in str(err.value)
    assert builder.builds == 0 and index.downloads(".tar.gz") == []


def test_a_deep_chain_is_printed_once_without_repeats(make_index):
    index = make_index(_no_fit_catalog(depth=30))
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    with pytest.raises(_resolve.ResolutionFailed) as err:
        _resolve.resolve(_targets.target_from_declaration(FREE_THREADED), wanted("d0", "ipy"), client)
    message = str(err.value)
    assert err.value.causes == ("leaf",) and err.value.rounds <= 1
    chain = message.split("needed through ")[1].split(". Relax")[0].split(" -> ")
    assert chain[0] == "d0 (wanted)" and chain[-1] == "leaf (from d29 1.2 and 2 older versions)"
    assert [step.split(">=")[0] for step in chain[1:-1]] == ["d%d" % i for i in range(1, 30)]
    assert len(set(chain)) == len(chain) == 31
    assert message.count("no cp313t wheel") == 1 and len(message) < 3000


# -- a declared PyPy target is a surveyed one ----------------------------------------------------------------------
def _pypy_facts():
    import shutil
    pypy = shutil.which("pypy3")
    if pypy is None:
        pytest.fail("pypy3 is missing: make system-deps installs it (tests/tools/system-deps)")
    code = ("import json, sys; sys.path.insert(0, %r); from ansible_collections.airgap.pymigrate.plugins.module_utils "
            "import _target_facts; print(json.dumps(_target_facts.collect('/nonexistent')))"
            % os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           ".collections"))
    return json.loads(subprocess.run([pypy, "-c", code], check=True, stdout=subprocess.PIPE, text=True).stdout)


def test_a_declared_pypy_target_resolves_as_the_surveyed_pypy_host(make_index):
    import platform
    facts = _pypy_facts()
    version = facts["markers"]["python_version"]
    declared = _targets.target_from_declaration({
        "python": version, "python_full": facts["markers"]["python_full_version"], "implementation": "pypy",
        "implementation_version": facts["markers"]["implementation_version"], "arch": platform.machine(),
        "libc": "glibc", "libc_version": platform.libc_ver()[1]})
    surveyed = _targets.target_from_facts(facts)
    assert list(declared.tags) == list(surveyed.tags)  # the real PyPy's own packaging.tags.sys_tags()
    kernel = ("platform_release", "platform_version")
    assert {k: v for k, v in declared.markers.items() if k not in kernel} == {
        k: v for k, v in surveyed.markers.items() if k not in kernel}
    nodot = version.replace(".", "")
    release = catalog.release
    index = make_index([
        release("ppext", "1.0", tags=[("cp%s-cp%s-manylinux_2_17_x86_64" % (nodot, nodot),),
                                      ("pp%s-pypy%s_pp73-manylinux_2_17_x86_64" % (nodot, nodot),)]),
        release("ppext", "1.1", tags=[("cp%s-cp%s-manylinux_2_17_x86_64" % (nodot, nodot),)]),
        release("split", "1.0", requires=['pypyonly; implementation_name == "pypy"',
                                          'cponly; platform_python_implementation == "CPython"']),
        release("pypyonly", "1.0"), release("cponly", "1.0")])
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    ours = _resolve.resolve(declared, wanted("ppext", "split"), client)
    assert [(p.name, p.version, p.file.filename) for p in ours] == [
        (p.name, p.version, p.file.filename) for p in _resolve.resolve(surveyed, wanted("ppext", "split"), client)]
    assert {p.name: p.version for p in ours} == {"ppext": "1.0", "split": "1.0", "pypyonly": "1.0"}
    assert ours[0].file.filename == "ppext-1.0-pp%s-pypy%s_pp73-manylinux_2_17_x86_64.whl" % (nodot, nodot)


# -- the public index (network) -------------------------------------------------------------------------------------
@pytest.mark.network
def test_keyring_and_ipython_on_free_threaded_3_13_name_the_dependency_without_a_wheel():
    import time
    client = _index.IndexClient([_index.IndexConfig("https://pypi.org/simple/")])
    cutoff = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
    started = time.monotonic()
    try:
        with pytest.raises(_resolve.ResolutionFailed) as err:
            _resolve.resolve(_targets.target_from_declaration(FREE_THREADED), wanted("keyring==25.4.1", "ipython"),
                             client, uploaded_prior_to=cutoff, profile="cp313t")
    finally:
        client.close()
    elapsed = time.monotonic() - started
    message = str(err.value)
    assert "cryptography" in err.value.causes, message
    assert "no version of cryptography fits this profile" in message and "no cp313t wheel" in message
    assert "keyring==25.4.1 (wanted) -> secretstorage>=3.2 (from keyring 25.4.1)" in message
    assert err.value.rounds <= 1
    print("keyring==25.4.1 + ipython on cp313t refused in %.1f s: %s" % (elapsed, message))
