# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pip's requirements-file format, read on the control node into requirements and constraints.

Only the part of the format that means "these projects, these versions" is accepted; everything that tells pip
where or how to install (index and find-links options, editables, URLs, local paths, build settings) is refused
with the inventory variable that does the job here, because the bundle is resolved on the control node and the
hosts behind the air gap never see pip's options. What is read, as pip reads it:

* one requirement a line (PEP 508; environment markers are kept in the requirement string, never evaluated
  here: each target's own marker environment decides);
* a line ending in an unescaped ``\\`` continues on the next one; a line that begins with ``#`` (or whitespace
  and ``#``) is a comment, and whitespace then ``#`` starts a comment; comments are stripped *after* lines are
  joined (pip's order);
* ``-r FILE`` / ``--requirement FILE`` / ``--requirement=FILE`` includes another file, ``-c FILE`` /
  ``--constraint FILE`` a constraints file (whose lines, and the lines of any file it includes with ``-r``, are
  constraints). A relative FILE is taken from the directory of the file that names it; include cycles are refused;
* ``--hash=sha256:HEX`` on a requirement line (several allowed); other algorithms are refused;
* ``${NAME}`` (upper-case letters, digits and ``_`` only, pip's form) is replaced by the environment variable
  NAME of the process reading the file, i.e. **the control node's** ``os.environ`` (the Ansible controller's
  environment, not a host's); an unset or empty variable is an error here (pip would leave the text as it is).
  Errors quote each line as written, before expansion, so that a token in a variable is not echoed; a line of a file
  reached through ``-r``/``-c`` is never quoted (an include may name any file the control node can read): the error
  names that file, the line number and the include line.

Files are UTF-8 (a byte-order mark is skipped) unless a PEP 263 ``coding:`` comment on the first two lines
names another encoding, as pip allows.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import re
import shlex
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    InvalidRequirement,
    Requirement,
    canonicalize_name,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

# pip's own patterns (pip/_internal/req/req_file.py): a comment starts a line or follows whitespace.
COMMENT_RE = re.compile(r"(^|\s+)#.*$")
ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
CODING_RE = re.compile(br"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^file:", re.IGNORECASE)
ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")
HASH_ALGORITHMS = ("sha256",)
KNOWN_HASH_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b")

INCLUDE_OPTIONS = {"-r": "requirement", "--requirement": "requirement",
                   "-c": "constraint", "--constraint": "constraint"}
AIR_GAP_HINT = ("Build a wheel, publish it to the index pymigrate_index_url names and require it by name and "
                "version")
# pip option -> what to do instead. Anything not listed gets the generic hint.
OPTION_HINTS = {
    "-e": "editable installs and local project paths cannot cross an air gap as they are. " + AIR_GAP_HINT,
    "--editable": "editable installs and local project paths cannot cross an air gap as they are. " + AIR_GAP_HINT,
    "-i": "set the index with pymigrate_index_url (and pymigrate_extra_index_urls) instead",
    "--index-url": "set the index with pymigrate_index_url (and pymigrate_extra_index_urls) instead",
    "--extra-index-url": "list further indexes in pymigrate_extra_index_urls instead",
    "--no-index": "the bundle is always resolved against pymigrate_index_url on the control node; remove the line",
    "-f": "serve the directory as an index and name it in pymigrate_index_url or pymigrate_extra_index_urls",
    "--find-links": "serve the directory as an index and name it in pymigrate_index_url or pymigrate_extra_index_urls",
    "--trusted-host": "the control node always verifies TLS; give a private CA with pymigrate_index_ca_bundle",
    "--pre": "set pymigrate_allow_prereleases: true instead",
    "--no-binary": "hosts install wheels only; pymigrate_build_sdists decides whether sdists are built on the "
                   "control node",
    "--only-binary": "hosts install wheels only; pymigrate_build_sdists decides whether sdists are built on the "
                     "control node",
    "--prefer-binary": "hosts install wheels only; pymigrate_build_sdists decides whether sdists are built on the "
                       "control node",
    "--config-settings": "build settings are not carried: build the wheel yourself, publish it to your index and "
                         "require it by name and version",
    "--global-option": "build options are not carried: build the wheel yourself, publish it to your index and "
                       "require it by name and version",
    "--install-option": "build options are not carried: build the wheel yourself, publish it to your index and "
                        "require it by name and version",
}
GENERIC_OPTION_HINT = "pip's options do not apply: the bundle is resolved on the control node. Remove the line"


@dataclasses.dataclass(frozen=True)
class RequirementsFile:
    """What a requirements file (and the files it includes) asks for.

    ``requirements`` and ``constraints`` are tuples of (normalized name, requirement string, hashes), in the
    order first met; the requirement string is PEP 508 with the normalized name, sorted extras, the specifier
    and any marker, without ``--hash`` options; hashes are ``"sha256:<hex>"`` strings in the order given.
    ``origins`` pairs ("requirement" | "constraint", name) with (path, line number, line as written), for errors.
    """

    requirements: tuple = ()
    constraints: tuple = ()
    path: str = ""
    host: t.Optional[str] = None
    var: t.Optional[str] = None
    origins: tuple = ()

    def origin(self, kind: str, name: str) -> tuple:
        for key, where in self.origins:
            if key == (kind, name):
                return where
        return (self.path, 0, "")


def _line_error(problem: str, path: str, lineno: int, text: str, host: t.Optional[str], var: t.Optional[str],
                hint: t.Optional[str] = None) -> PyMigrateError:
    return PyMigrateError("requirements file %s, line %d: %s" % (path, lineno, problem), host=host, var=var,
                          value=text, hint=hint)


def _where_error(problem: str, where: tuple, host: t.Optional[str], var: t.Optional[str],
                 hint: t.Optional[str] = None) -> PyMigrateError:
    path, lineno, text = where
    return _line_error(problem, path, lineno, text, host, var, hint)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8")
    for line in data.splitlines()[:2]:
        match = CODING_RE.match(line)
        if match:
            return data.decode(match.group(1).decode("ascii"))
    return data.decode("utf-8")


def _read(path: str, host: str, var: str, include: t.Optional[tuple]) -> str:
    """The text of ``path``; ``include`` = (path, line, text) of the ``-r``/``-c`` line naming it, if any."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return _decode(data)
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        problem = "cannot read requirements file %s: %s" % (path, exc)
        if include:
            raise _where_error(problem, include, host, var)
        raise PyMigrateError(problem, host=host, var=var, value=path)


def _logical_lines(text: str) -> t.Iterator[tuple]:
    """(first physical line number, joined line) as pip's join_lines yields them."""
    first = None
    parts: list = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.endswith("\\") or COMMENT_RE.match(line):
            if COMMENT_RE.match(line):
                line = " " + line  # a comment line ends a continuation, and stays a comment once joined
            if parts:
                parts.append(line)
                yield first, "".join(parts)
                parts = []
            else:
                yield number, line
        else:
            if not parts:
                first = number
            parts.append(line[:-1])
    if parts:
        yield first, "".join(parts)


def _expand(line: str, path: str, lineno: int, raw: str, host: str, var: str) -> str:
    def value(match: t.Match) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if not found:
            raise _line_error("environment variable %s is not set (or empty) on the control node" % name,
                              path, lineno, raw, host, var,
                              hint="Export it in the environment that runs ansible-playbook, or write the value")
        return found
    return ENV_VAR_RE.sub(value, line)


def _hash(value: str, path: str, lineno: int, raw: str, host: str, var: str) -> str:
    algorithm, _sep, digest = value.partition(":")
    algorithm = algorithm.lower()
    if algorithm not in HASH_ALGORITHMS:
        problem = ("hash algorithm %s is not accepted, only sha256" % algorithm if algorithm in KNOWN_HASH_ALGORITHMS
                   else "malformed --hash %r: expected sha256:<64 hex digits>" % value)
        raise _line_error(problem, path, lineno, raw, host, var,
                          hint="Give --hash=sha256:<hex> (pip hash -a sha256 FILE, or pip-compile --generate-hashes)")
    if not re.match(r"^[0-9a-fA-F]{64}$", digest):
        raise _line_error("malformed --hash %r: expected sha256:<64 hex digits>" % value, path, lineno, raw,
                          host, var)
    return "sha256:" + digest.lower()


def _split_args_options(line: str) -> tuple:
    """pip's break_args_options: the requirement, then everything from the first token that starts with '-'."""
    tokens = line.split()
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), tokens[index:]
    return " ".join(tokens), []


def _option_name(token: str) -> str:
    if token.startswith("--"):
        return token.split("=", 1)[0]
    return token[:2]


def _refuse_option(token: str, path: str, lineno: int, raw: str, host: str, var: str) -> t.NoReturn:
    name = _option_name(token)
    hint = OPTION_HINTS.get(name, GENERIC_OPTION_HINT)
    problem = "option %s is not accepted" % name
    if name in ("-e", "--editable"):
        problem = "editable requirement (%s) is not accepted" % name
    raise _line_error(problem, path, lineno, raw, host, var, hint=hint[:1].upper() + hint[1:])


def _include(line: str, path: str, lineno: int, raw: str, host: str, var: str) -> t.Optional[tuple]:
    """(kind, target path) for a ``-r``/``-c`` line, None for any other line starting with '-'."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise _line_error("cannot split the options (%s)" % exc, path, lineno, raw, host, var)
    first = tokens[0]
    name = _option_name(first)
    if name not in INCLUDE_OPTIONS:
        return None
    kind = INCLUDE_OPTIONS[name]
    rest = tokens[1:]
    if first.startswith("--") and "=" in first:
        rest.insert(0, first.split("=", 1)[1])
    elif not first.startswith("--") and len(first) > 2:
        rest.insert(0, first[2:])  # -rFILE, as optparse reads it
    if len(rest) != 1 or not rest[0]:
        raise _line_error("%s takes exactly one file" % name, path, lineno, raw, host, var,
                          hint="Put one %s FILE a line" % name)
    target = rest[0]
    if URL_RE.match(target):
        raise _line_error("%s names a URL; only local files are read" % name, path, lineno, raw, host, var,
                          hint="Download the file next to this one and name it by path")
    target = os.path.expanduser(target)
    if not os.path.isabs(target):
        target = os.path.join(os.path.dirname(path), target)
    return kind, os.path.abspath(target)


def _looks_like_path(head: str) -> bool:
    return (head.startswith((".", "/", "~")) or "/" in head or "\\" in head
            or head.lower().endswith(ARCHIVE_SUFFIXES))


def _requirement(line: str, path: str, lineno: int, raw: str, host: str, var: str) -> tuple:
    """(name, requirement string, hashes) for a requirement line."""
    text, options = _split_args_options(line)
    hashes: list = []
    index = 0
    while index < len(options):
        token = options[index]
        if token == "--hash":
            if index + 1 >= len(options):
                raise _line_error("--hash needs a value", path, lineno, raw, host, var,
                                  hint="Give --hash=sha256:<hex>")
            value = options[index + 1]
            index += 2
        elif token.startswith("--hash="):
            value = token[len("--hash="):]
            index += 1
        else:
            _refuse_option(token, path, lineno, raw, host, var)
        digest = _hash(value, path, lineno, raw, host, var)
        if digest not in hashes:
            hashes.append(digest)
    head = text.split(";", 1)[0].strip()
    if "@" not in head:
        if URL_RE.match(head):
            raise _line_error("a URL is not accepted as a requirement", path, lineno, raw, host, var,
                              hint=AIR_GAP_HINT)
        if _looks_like_path(head):
            raise _line_error("a local path is not accepted as a requirement: local paths cannot cross an air gap "
                              "as they are", path, lineno, raw, host, var, hint=AIR_GAP_HINT)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise _line_error("not a valid requirement: %s" % exc, path, lineno, raw, host, var)
    if requirement.url:
        raise _line_error("a direct reference (name @ URL) is not accepted: the bundle takes files from the index",
                          path, lineno, raw, host, var, hint=AIR_GAP_HINT)
    name = canonicalize_name(requirement.name)
    extras = "[%s]" % ",".join(sorted(requirement.extras)) if requirement.extras else ""
    marker = "; %s" % requirement.marker if requirement.marker is not None else ""
    return name, "%s%s%s%s" % (name, extras, requirement.specifier, marker), tuple(hashes)


class _UnshownLine(PyMigrateError):
    """An error on a line of an included file, which names the file and line but never shows the line."""


class _Reader:
    def __init__(self, host: str, var: str):
        self.host = host
        self.var = var
        self.entries: dict = {"requirement": {}, "constraint": {}}  # kind -> name -> (text, hashes, origin)

    def read(self, path: str, kind: str, chain: tuple, include: t.Optional[tuple]) -> None:
        real = os.path.realpath(path)
        if real in [os.path.realpath(item) for item in chain]:
            names = " -> ".join(chain + (path,))
            # Only an include can close a cycle: the first file has an empty chain.
            raise _where_error("include cycle: %s" % names, include or (path, 0, ""), self.host, self.var,
                               hint="Remove one of the -r/-c lines")
        chain = chain + (path,)
        text = _read(path, self.host, self.var, include)
        for lineno, joined in _logical_lines(text):
            raw = COMMENT_RE.sub("", joined).strip()
            if not raw:
                continue
            try:
                self._line(raw, path, lineno, kind, chain)
            except PyMigrateError as exc:
                if include is None or isinstance(exc, _UnshownLine) or exc.value != raw:
                    raise
                # A -r/-c include may name any file the control node can read: its lines are never shown.
                raise _UnshownLine("requirements file %s, line %d (included by %s, line %d): not a line this "
                                   "collection reads (the line is not shown)" % (path, lineno, include[0], include[1]),
                                   host=self.host, var=self.var, value=include[2], hint=exc.hint) from None

    def _line(self, raw: str, path: str, lineno: int, kind: str, chain: tuple) -> None:
        """One logical line: an include (read now) or a requirement."""
        line = _expand(raw, path, lineno, raw, self.host, self.var)
        where = (path, lineno, raw)
        if line.startswith("-"):
            found = _include(line, path, lineno, raw, self.host, self.var)
            if found is None:
                _refuse_option(line.split()[0], path, lineno, raw, self.host, self.var)
            sub_kind, target = found
            # A constraints file stays one all the way down: -r inside it includes more constraints.
            self.read(target, "constraint" if kind == "constraint" else sub_kind, chain, where)
            return
        self.add(kind, _requirement(line, path, lineno, raw, self.host, self.var), where)

    def add(self, kind: str, entry: tuple, where: tuple) -> None:
        name, text, hashes = entry
        seen = self.entries[kind].get(name)
        if seen is None:
            self.entries[kind][name] = (text, hashes, where)
            return
        if (seen[0], seen[1]) == (text, hashes):
            return
        old = seen[2]
        what = "different hashes" if seen[0] == text else "different specs"
        raise _where_error("%s %s is listed twice with %s: %r at %s line %d and %r here"
                           % (kind, name, what, old[2], old[0], old[1], where[2]), where, self.host, self.var,
                           hint="Keep one line for %s" % name)


def read_requirements_file(path: str, *, host: str, var: str, base_dir: t.Optional[str] = None) -> RequirementsFile:
    """Read ``path`` (relative to ``base_dir``, else the current directory) and the files it includes.

    Raises PyMigrateError naming the file, the line, ``host`` and ``var`` for anything not accepted.
    """
    if not isinstance(path, str) or not path.strip():
        raise PyMigrateError("must be the path of a requirements file", host=host, var=var, value=path)
    full = os.path.expanduser(path)
    if not os.path.isabs(full):
        full = os.path.join(base_dir or os.getcwd(), full)
    full = os.path.abspath(full)
    reader = _Reader(host, var)
    reader.read(full, "requirement", (), None)
    origins = []
    result: dict = {}
    for kind in ("requirement", "constraint"):
        result[kind] = []
        for name, (text, hashes, where) in reader.entries[kind].items():
            result[kind].append((name, text, hashes))
            origins.append(((kind, name), where))
    return RequirementsFile(tuple(result["requirement"]), tuple(result["constraint"]), full, host, var,
                            tuple(origins))


def as_layer(rf: RequirementsFile) -> tuple[dict, dict]:
    """({name: requirement string}, {name: specifier string}) in the shapes of WantedSet.requirements and
    WantedSet.constraints. Hashes are not part of a layer. A constraint keeps only its specifier (extras are
    dropped: they mean nothing to a constraint); a constraint with a marker is refused, since a layer holds one
    specifier per project for every target."""
    requirements = {name: text for name, text, _hashes in rf.requirements}
    constraints = {name: _constraint_spec(rf, "constraint", name, text) for name, text, _hashes in rf.constraints}
    return requirements, constraints


def constraints_of(rf: RequirementsFile) -> dict:
    """{name: specifier string} of a constraints file (pip's ``-c``): its own lines and those it includes are all
    constraints; markers are refused as in ``as_layer``."""
    constraints = {name: _constraint_spec(rf, "requirement", name, text) for name, text, _hashes in rf.requirements}
    constraints.update((name, _constraint_spec(rf, "constraint", name, text)) for name, text, _hashes in rf.constraints)
    return constraints


def _constraint_spec(rf: RequirementsFile, kind: str, name: str, text: str) -> str:
    requirement = Requirement(text)
    if requirement.marker is not None:
        path, lineno, raw = rf.origin(kind, name)
        raise _line_error("constraint %s has an environment marker; a constraint with a marker can't be layered "
                          "per target yet" % name, path, lineno, raw, rf.host, rf.var,
                          hint="Remove the marker, or set the constraint in the inventory of the hosts it "
                               "applies to (pymigrate_envs.<env>.constraints in their group or host vars)")
    return str(requirement.specifier)
