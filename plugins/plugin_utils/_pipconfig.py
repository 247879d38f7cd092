# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, no pymigrate_index_url given: the indexes pip itself would use on the control node.

Read as pip (Unix paths) reads its configuration: the files global (each ``$XDG_CONFIG_DIRS`` entry, default
/etc/xdg, then /etc), user (~/.pip legacy, then ``$XDG_CONFIG_HOME`` or ~/.config; skipped when
``PIP_CONFIG_FILE`` names an existing file), site (sys.prefix) and last ``PIP_CONFIG_FILE``, each file overriding
earlier ones; ``PIP_CONFIG_FILE=os.devnull`` loads no file. Sections are those ``pip install`` sees, pooled
across files as pip pools them: [global] from every file, then [install] from every file (so an [install] value
in any file beats a [global] one in a later file), then ``PIP_*`` environment variables; empty values do not
count. [download] is not read: the bundle resolves for an install.

An option that changes where or how packages come from and that the collection does not follow
(REFUSED_OPTIONS) fails naming the option, where it was set and its value; it is never silently dropped.
Options with no bearing on which files are fetched (timeouts, retries, verbosity, cache, ...) are ignored.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import sys
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import index_config, local_source, redact
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._reqfile import constraints_of, read_requirements_file

DEFAULT_SOURCE = "pip's default (the public index)"
SECTIONS = ("global", "install")
SUPPORTED = ("index-url", "extra-index-url", "find-links", "constraint", "cert")
ALIASES = {"pypi-url": "index-url"}  # pip accepts any long name of an option as a configuration key
_BOOLEAN = ("no-index", "pre", "require-hashes", "prefer-binary", "ignore-requires-python", "no-proxy-env")
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")
_SKIP = " or set pymigrate_index_url, so that pip's configuration is not read"

# (option, why the collection refuses it, what to do instead)
REFUSED_OPTIONS = (
    ("no-index", "it turns every index off", "Set pymigrate_index_url (a file:// directory index works)"),
    ("trusted-host", "it turns TLS verification off for a host",
     "Set pymigrate_index_ca_bundle to the CA bundle of that index instead"),
    ("client-cert", "TLS client certificates are not supported",
     "Use an index that takes a user/password or token (pymigrate_index_username/password/token), with "
     "pymigrate_index_ca_bundle for its CA"),
    ("proxy", "the collection takes proxies from the environment",
     "Set HTTPS_PROXY (and NO_PROXY) in the control node's environment instead"),
    ("no-proxy-env", "the collection always takes proxies from the environment",
     "Unset HTTPS_PROXY in the control node's environment instead"),
    ("keyring-provider", "credentials from a keyring are not supported",
     "Set pymigrate_index_username/password or pymigrate_index_token (or use ~/.netrc) instead"),
    ("require-hashes", "the collection pins every file by sha256 itself", "Remove it from pip's configuration"),
    ("only-binary", "the collection decides wheels against sdists itself", "Use pymigrate_build_sdists instead"),
    ("no-binary", "the collection decides wheels against sdists itself", "Use pymigrate_build_sdists instead"),
    ("prefer-binary", "it changes which version is picked", "Remove it from pip's configuration"),
    ("pre", "pre-releases are chosen by the collection's own variable", "Use pymigrate_allow_prereleases instead"),
    ("all-releases", "pre-releases are chosen by the collection's own variable",
     "Use pymigrate_allow_prereleases instead"),
    ("only-final", "pre-releases are chosen by the collection's own variable",
     "Use pymigrate_allow_prereleases instead"),
    ("uploaded-prior-to", "the upload cut-off is the collection's own variable",
     "Use pymigrate_uploaded_prior_to instead"),
    ("ignore-requires-python", "the target's Python decides which files fit", "Remove it from pip's configuration"),
)


@dataclasses.dataclass(frozen=True)
class PipIndexSettings:
    index_url: str
    extra_index_urls: tuple
    find_links: tuple
    constraints: tuple
    source: str  # where the values came from, for messages
    ca_bundle: str | None = None  # pip's cert: the CA bundle for the indexes' TLS certificates


def default_index_url() -> str:
    """pip's own default index, taken from pip (every control node with Ansible from pip has it)."""
    try:
        from pip._internal.models.index import PyPI  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise PyMigrateError("pymigrate_index_url is not set, pip's configuration names no index, and pip is not "
                             "installed to say which index it would use", var="pymigrate_index_url",
                             hint="Set pymigrate_index_url") from None
    return PyPI.simple_url


def _normalize(name: str) -> str:
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


class _Parser(configparser.RawConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return _normalize(optionstr)


def pip_config_files(environ: t.Mapping[str, str] | None = None, prefix: str | None = None) -> list:
    """pip's configuration files on Unix, lowest priority first, for this environment (``prefix``: sys.prefix)."""
    environ = os.environ if environ is None else environ
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    home = environ.get("HOME") or os.path.expanduser("~")
    xdg_dirs = [d.strip() for d in environ.get("XDG_CONFIG_DIRS", "").split(os.pathsep) if os.path.isabs(d.strip())]
    files = [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs or ["/etc/xdg"]] + ["/etc/pip.conf"]
    if not (env_file and os.path.exists(env_file)):
        config_home = environ.get("XDG_CONFIG_HOME", "").strip()
        config_home = config_home if os.path.isabs(config_home) else os.path.join(home, ".config")
        files += [os.path.join(home, ".pip", "pip.conf"), os.path.join(config_home, "pip", "pip.conf")]
    files.append(os.path.join(sys.prefix if prefix is None else prefix, "pip.conf"))
    if env_file:
        files.append(env_file)
    return files


def _read(path: str) -> _Parser:
    parser = _Parser()
    if os.path.exists(path):
        try:
            parser.read(path, encoding="utf-8")  # like pip, a file that cannot be opened counts as empty
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise PyMigrateError("pip's configuration file %s cannot be parsed: %s" % (path, exc),
                                 hint="Fix the file" + _SKIP) from None
    return parser


def _collect(environ: t.Mapping[str, str], files: t.Sequence[str]) -> dict:
    """Effective option -> (value, where), in pip's order: [global] of all files, [install] of all, environment."""
    pooled: dict = {section: {} for section in SECTIONS + (":env:",)}
    for path in files:
        parser = _read(path)
        for section in SECTIONS:
            if parser.has_section(section):
                for key, value in parser.items(section):
                    pooled[section][ALIASES.get(key, key)] = (value.strip(), "%s [%s]" % (path, section))
    for name, value in environ.items():
        if name.startswith("PIP_") and _normalize(name[4:]) not in ("version", "help", "config-file"):
            key = _normalize(name[4:])
            pooled[":env:"][ALIASES.get(key, key)] = (value.strip(), "%s in the environment" % name)
    effective: dict = {}
    for section in pooled.values():
        effective.update((key, item) for key, item in section.items() if item[0])
    return effective


def _refuse(effective: dict) -> None:
    for option, reason, hint in REFUSED_OPTIONS:
        if option not in effective:
            continue
        value, where = effective[option]
        if option in _BOOLEAN:
            if value.lower() in _FALSE:
                continue
            if value.lower() not in _TRUE:
                raise PyMigrateError("pip's configuration sets %s in %s to a value that is not a boolean"
                                     % (option, where), var=option, value=value, hint="Fix it" + _SKIP)
        elif option in ("only-binary", "no-binary", "all-releases", "only-final") and value == ":none:":
            continue
        raise PyMigrateError("pip's configuration sets %s in %s, which the collection does not support: %s"
                             % (option, where, reason), var=option, value=redact(value), hint=hint + _SKIP)


def pip_index_settings(environ: t.Mapping[str, str] | None = None, *,
                       config_files: t.Sequence[str] | None = None) -> PipIndexSettings:
    """The indexes, find-links and constraints ``pip install`` would use; ``config_files`` (lowest priority first)
    replaces pip's own list, which is otherwise computed from ``environ`` (PIP_CONFIG_FILE, HOME, XDG_*)."""
    environ = os.environ if environ is None else environ
    files = pip_config_files(environ) if config_files is None else list(config_files)
    effective = _collect(environ, files)
    _refuse(effective)
    value = {option: effective.get(option, ("", ""))[0] for option in SUPPORTED}
    origins = [effective[option][1] for option in SUPPORTED if option in effective]
    if "index-url" not in effective:
        origins.insert(0, DEFAULT_SOURCE)
    return PipIndexSettings(
        index_url=value["index-url"] or default_index_url(),
        extra_index_urls=tuple(value["extra-index-url"].split()),
        find_links=tuple(value["find-links"].split()),
        constraints=tuple(value["constraint"].split()),
        source=" and ".join(dict.fromkeys(origins)),
        ca_bundle=value["cert"] or None,
    )


def describe(settings: PipIndexSettings) -> str:
    """One line for the user: which indexes, without credentials, and where they came from."""
    text = "using index %s" % redact(settings.index_url)
    if settings.extra_index_urls:
        text += ", extra indexes %s" % ", ".join(redact(url) for url in settings.extra_index_urls)
    if settings.find_links:
        text += ", find-links %s" % ", ".join(redact(url) for url in settings.find_links)
    if settings.constraints:
        text += ", constraints %s" % ", ".join(settings.constraints)
    return "%s (from %s)" % (text, settings.source)


@dataclasses.dataclass(frozen=True)
class IndexChoice:
    """The sources a bundle build reads, and what the run says about them."""

    indexes: list
    ca_bundle: str | None
    constraints: dict  # {name: specifier} from pip's constraint files, applied to every environment
    description: str


def source(url: str, flat: bool = False, username=None, password=None, token=None):
    """An index URL (credentials inside it become its auth), or a local directory (a path or file:// URL): a PEP 503
    directory index, or with ``flat`` a find-links directory."""
    if flat or url.startswith(("file:", "/")):
        return local_source(url, flat=flat)
    return index_config(url, username, password, token)


def choose_indexes(index_url: str | None, extra_index_urls: t.Sequence[str] = (), *, username=None, password=None,
                   token=None, ca_bundle: str | None = None, environ: t.Mapping[str, str] | None = None) -> IndexChoice:
    """The given pymigrate_index_url (pip's configuration is then not read at all), else the indexes, find-links,
    constraints and CA bundle ``pip install`` would use on the control node."""
    if index_url:
        indexes = [source(index_url, False, username, password, token)] + [source(url) for url in extra_index_urls]
        return IndexChoice(indexes, ca_bundle, {}, "using index %s (pymigrate_index_url)" % redact(index_url))
    settings = pip_index_settings(environ)
    for link in settings.find_links:
        if "://" in link and not link.startswith("file:"):
            raise PyMigrateError("pip's configuration sets find-links to a URL, which the collection does not support "
                                 "(only local directories)", var="find-links", value=redact(link),
                                 hint="Serve it as an index and set pymigrate_index_url" + _SKIP)
    indexes = ([source(settings.index_url, False, username, password, token)]
               + [source(url) for url in list(settings.extra_index_urls) + list(extra_index_urls)]
               + [source(link, flat=True) for link in settings.find_links])
    constraints: dict = {}
    for path in settings.constraints:
        # A constraints file's lines are constraints, also those it includes with -r.
        specs = constraints_of(read_requirements_file(path, host="the control node", var="pip's constraint setting"))
        for name, spec in specs.items():
            constraints[name] = ",".join(filter(None, [constraints.get(name, ""), spec]))  # every file applies
    return IndexChoice(indexes, ca_bundle or settings.ca_bundle, constraints, describe(settings))
