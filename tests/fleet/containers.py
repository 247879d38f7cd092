"""Podman for the test fleet: private engine settings, and base images holding one of pyenv's Pythons.

Standard library only, no Ansible. Nothing here touches the machine's default podman store
(/var/lib/containers, /run/containers, /run/libpod, /dev/shm/libpod_lock): the control node's podman runs with
``control_env(work_dir)``, a config and an image store of its own, and each fleet host (``fleetlib.up(...,
containers=True)``) has private ones in its mount namespace (see ``host_engine_files``).

On this kernel podman works only with cgroupfs, runc, a file events log and no default ulimits; images are
built from local files (no registry is reachable): ``build_base_image`` copies an interpreter with its stdlib
and the shared libraries it links into a root file system and ``podman import``s it.
"""

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")
IMAGE_REPOSITORY = "localhost/pmtest-python"
INSTALL_PODMAN = "apt-get install -y podman runc"
# Not needed by the tests' images (and large or drags in Tk); site-packages keeps pip & co out of the image.
STDLIB_EXCLUDES = ("test", "idlelib", "tkinter", "turtledemo")
SYSTEM_BLOB_CACHE = "/var/lib/containers/cache"
POLICY_JSON = '{"default": [{"type": "insecureAcceptAnything"}]}\n'


class ContainersError(Exception):
    pass


def containers_conf(tmp_dir, lock_type="file", network_config_dir=None):
    """containers.conf text: the settings this kernel needs, plus the engine's own state dir (``tmp_dir``,
    default /run/libpod) and file locks under it instead of the machine-wide /dev/shm/libpod_lock."""
    lines = ["[containers]", "default_ulimits = []",
             "[engine]", 'cgroup_manager = "cgroupfs"', 'runtime = "runc"', 'events_logger = "file"',
             'tmp_dir = "%s"' % tmp_dir, 'lock_type = "%s"' % lock_type]
    if network_config_dir:
        lines += ["[network]", 'network_config_dir = "%s"' % network_config_dir]
    return "\n".join(lines) + "\n"


def storage_conf(storage_root, run_root):
    return "\n".join(["[storage]", 'driver = "overlay"', 'runroot = "%s"' % run_root,
                      'graphroot = "%s"' % storage_root]) + "\n"


def engine_config(directory, storage_root, run_root, tmp_dir=None, network_config_dir=None):
    """Write containers.conf, storage.conf (and policy.json) into ``directory``; return the env that selects them.

    ``tmp_dir`` (podman's own state: events log, exit files, locks) defaults to ``<run_root>/libpod``;
    ``network_config_dir`` to ``<directory>/networks``."""
    os.makedirs(directory, exist_ok=True)
    tmp_dir = tmp_dir or os.path.join(run_root, "libpod")
    network_config_dir = network_config_dir or os.path.join(directory, "networks")
    files = {"containers.conf": containers_conf(tmp_dir, network_config_dir=network_config_dir),
             "storage.conf": storage_conf(storage_root, run_root),
             "policy.json": POLICY_JSON}
    for file_name, text in files.items():
        with open(os.path.join(directory, file_name), "w") as handle:
            handle.write(text)
    return {"CONTAINERS_CONF": os.path.join(directory, "containers.conf"),
            "CONTAINERS_STORAGE_CONF": os.path.join(directory, "storage.conf")}


def host_engine_files(directory):
    """A fleet host's /etc/containers (written into ``directory``, bind-mounted over /etc/containers inside the
    host): store in /var/lib/containers/storage, run state in /run/containers (both private mounts there)."""
    os.makedirs(os.path.join(directory, "networks"), exist_ok=True)
    os.makedirs(os.path.join(directory, "registries.conf.d"), exist_ok=True)
    files = {"containers.conf": containers_conf("/run/containers/libpod",
                                                network_config_dir="/etc/containers/networks"),
             "storage.conf": storage_conf("/var/lib/containers/storage", "/run/containers/storage"),
             "policy.json": POLICY_JSON,
             "registries.conf": "# fleet host: no registry is reachable\nunqualified-search-registries = []\n"}
    for file_name, text in files.items():
        with open(os.path.join(directory, file_name), "w") as handle:
            handle.write(text)


def control_env(work_dir):
    """Private podman config + store for the control node under ``work_dir``: tests never touch the machine's
    default /var/lib/containers. Returns the env dict (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF)."""
    work_dir = os.path.abspath(work_dir)
    return engine_config(os.path.join(work_dir, "etc"), os.path.join(work_dir, "storage"),
                         os.path.join(work_dir, "run"))


def podman_path():
    found = shutil.which("podman")
    if not found:
        raise ContainersError("podman is not installed; install it (as root): %s" % INSTALL_PODMAN)
    if not shutil.which("runc") and not os.access("/usr/sbin/runc", os.X_OK):
        raise ContainersError("runc (podman's runtime here) is not installed; install it: %s" % INSTALL_PODMAN)
    return found


def podman(argv, env, check=True, **kwargs):
    """Run ``podman ARGV`` with ``env`` (an engine_config/control_env dict) on top of os.environ.

    Text output captured unless the caller passes stdout/stderr; a failure raises ContainersError naming the
    command, its exit code and stderr."""
    full = [podman_path()] + list(argv)
    full_env = dict(os.environ)
    full_env.update(env or {})
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    if "input" not in kwargs or isinstance(kwargs.get("input"), str):
        kwargs.setdefault("text", True)
    wrapped = _isolate_blob_cache(full, full_env)
    try:
        result = subprocess.run(wrapped, env=full_env, check=False, **kwargs)
    except OSError as exc:
        raise ContainersError("cannot run %s: %s" % (" ".join(full), exc))
    if check and result.returncode != 0:
        stderr = result.stderr if isinstance(result.stderr, str) else (result.stderr or b"").decode(errors="replace")
        raise ContainersError("%s failed (rc=%d; CONTAINERS_CONF=%s): %s" % (
            " ".join(full), result.returncode, full_env.get("CONTAINERS_CONF", "default"),
            (stderr or "").strip()[-3000:] or "no error output"))
    return result


def _isolate_blob_cache(argv, env):
    """podman 4.3 as root keeps its blob info cache in /var/lib/containers/cache whatever the config says. With
    a config of our own and that directory present, podman runs in a private mount namespace where a directory
    beside the config (``<conf dir>/blob-info-cache``) covers it, so the machine's own stays untouched."""
    conf = env.get("CONTAINERS_CONF")
    unshare = shutil.which("unshare")
    if not conf or os.geteuid() != 0 or not unshare or not os.path.isdir(SYSTEM_BLOB_CACHE):
        return argv
    private = os.path.join(os.path.dirname(os.path.abspath(conf)), "blob-info-cache")
    os.makedirs(private, mode=0o700, exist_ok=True)
    script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", private,
            SYSTEM_BLOB_CACHE] + argv


def pyenv_python(python_version):
    """(prefix, X.Y) of the newest pyenv Python matching ``python_version`` ("3.11" or "3.11.7")."""
    minor = ".".join(python_version.split(".")[:2])
    versions_dir = os.path.join(PYENV_ROOT, "versions")
    present = sorted(os.listdir(versions_dir)) if os.path.isdir(versions_dir) else []
    matching = [entry for entry in present if re.match(r"^[0-9]+\.[0-9]+\.[0-9]+$", entry)
                and (entry == python_version or (entry.rsplit(".", 1)[0] == python_version))]
    matching.sort(key=lambda entry: [int(part) for part in entry.split(".")])
    if not matching or not os.access(os.path.join(versions_dir, matching[-1], "bin", "python" + minor), os.X_OK):
        raise ContainersError("no pyenv Python %s under %s (present: %s); install it: pyenv install %s"
                              % (python_version, versions_dir, ", ".join(present) or "none", python_version))
    return os.path.join(versions_dir, matching[-1]), minor


def image_id(tag, env):
    """The ID of the image ``tag`` in the store ``env`` selects, or None."""
    result = podman(["image", "inspect", "--format", "{{.Id}}", tag], env, check=False)
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def _shared_libraries(paths):
    """Absolute paths of the shared libraries (outside pyenv) that ``paths`` link, from ldd."""
    found = set()
    for path in paths:
        result = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                check=False)
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/") and "pyenv" not in parts[2]:
                found.add(parts[2])
            elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
                found.add(parts[0])  # the dynamic loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
    return sorted(found)


def _rootfs_tar(prefix, minor, out):
    """Write the image's root file system as a tar stream to ``out`` (a file object)."""
    python = os.path.join(prefix, "bin", "python" + minor)
    stdlib = os.path.join(prefix, "lib", "python" + minor)
    libpython = os.path.join(prefix, "lib", "libpython%s.so.1.0" % minor)
    excluded = {os.path.join(stdlib, name) for name in STDLIB_EXCLUDES}
    site_packages = os.path.join(stdlib, "site-packages")

    def keep(info):
        path = "/" + info.name
        base = os.path.basename(path)
        if base == "__pycache__" or base.startswith("_tkinter") or path in excluded:
            return None
        if path.startswith(site_packages + "/"):
            return None  # the empty dir stays: a bare interpreter, as on a minimal server image
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    dynload = os.path.join(stdlib, "lib-dynload")
    extensions = [os.path.join(dynload, name) for name in sorted(os.listdir(dynload))
                  if name.endswith(".so") and not name.startswith("_tkinter")]
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("tmp", "usr", "usr/bin", "root", "etc"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        link = tarfile.TarInfo("usr/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, python
        tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size, info.mode = len(passwd), 0o644
        tar.addfile(info, io.BytesIO(passwd))
        for path in [python] + ([libpython] if os.path.exists(libpython) else []) + [stdlib]:
            tar.add(path, arcname=path.lstrip("/"), filter=keep)
        for library in _shared_libraries([python] + extensions):
            real = os.path.realpath(library)  # cp -L: the file's content under the name the loader asks for
            tar.add(real, arcname=library.lstrip("/"), recursive=False, filter=keep)


def build_base_image(python_version, tag=None, env=None, cache_dir=None, archive=None):
    """Build (or reuse) a base image holding pyenv's Python ``python_version`` (stdlib only, /usr/bin/python3).

    ``tag`` defaults to localhost/pmtest-python:<X.Y>; an image already carrying that tag in the store ``env``
    selects is reused. ``cache_dir`` keeps the root file system tarball (reused by later builds into other stores).
    ``archive``: also write the image as an OCI archive file there (``podman save --format oci-archive``).
    Returns the image ID."""
    podman_path()
    prefix, minor = pyenv_python(python_version)
    tag = tag or "%s:%s" % (IMAGE_REPOSITORY, minor)
    found = image_id(tag, env)
    if not found:
        cached = os.path.join(cache_dir, "pmtest-python-%s-rootfs.tar" % os.path.basename(prefix)) \
            if cache_dir else None
        if cached and os.path.exists(cached):
            podman(["import", "--change", "CMD=/usr/bin/python3", cached, tag], env)
        else:
            with tempfile.TemporaryDirectory(prefix="pmtest-rootfs-") as scratch:
                path = cached or os.path.join(scratch, "rootfs.tar")
                if cache_dir:
                    os.makedirs(cache_dir, exist_ok=True)
                partial = path + ".part"
                with open(partial, "wb") as handle:
                    _rootfs_tar(prefix, minor, handle)
                os.replace(partial, path)
                podman(["import", "--change", "CMD=/usr/bin/python3", path, tag], env)
        found = image_id(tag, env)
        if not found:
            raise ContainersError("podman import of %s reported success but the image is not in the store" % tag)
    if archive:
        save_archive(tag, archive, env)
    return found


def save_archive(tag, path, env):
    """Write image ``tag`` as an OCI archive file (for tests that pass the base image as a file)."""
    if os.path.exists(path):
        os.unlink(path)  # podman save refuses to overwrite
    podman(["save", "--format", "oci-archive", "-o", path, tag], env)
    return path
