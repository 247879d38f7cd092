# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, fetch: parallel downloads into the content-addressed store shared by all profiles.

Each file is streamed to a partial file beside its final place, hashed while written, checked against
the index's sha256 and size, fsynced and renamed: the store never holds a file whose bytes were not
proven. A file already in place is not fetched again once its bytes are proven too: hashed, or hashed before and
not written since (the store's verified cache, as on the hosts); one with other bytes (even of the same size) is
fetched again.
"""

from __future__ import annotations

import concurrent.futures
import os
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    StoreError,
    compare,
    store_relpath,
    write_verified,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import MAX_FILE_BYTES, redact
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, PyMigrateError

CHUNK = 1024 * 1024


def store_path(store_dir: str, dist: DistFile) -> str:
    return os.path.join(store_dir, store_relpath(dist.sha256, dist.filename))


def missing_files(files: t.Iterable[DistFile], store_dir: str, repair: bool = False) -> list:
    """Files the store does not hold with their bytes, each once: absent, or present with other bytes (``repair``
    removes those, so that the fetch replaces them)."""
    by_path: dict = {}
    for dist in files:
        by_path.setdefault(store_relpath(dist.sha256, dist.filename), dist)
    wanted = [{"path": path, "sha256": dist.sha256, "size": dist.size} for path, dist in by_path.items()]
    try:
        found = compare(store_dir, wanted, repair=repair)
    except StoreError as exc:
        raise PyMigrateError("the store %s: %s" % (store_dir, exc))
    bad = set(found["missing"]) | {item["path"] for item in found["corrupt"]}
    return [dist for path, dist in by_path.items() if path in bad]


def _download(client, dist: DistFile, store_dir: str) -> str:
    final = store_path(store_dir, dist)
    response = client.get(dist.url, stream=True)
    try:
        if response.status_code != 200:
            raise PyMigrateError("download of %s from %s failed: HTTP %d" % (dist.filename, redact(dist.index_url),
                                                                             response.status_code))
        chunks = client.chunks(response, "%s from %s" % (dist.filename, redact(dist.index_url)), MAX_FILE_BYTES,
                               dist.size)
        matched, sha256, size = write_verified(chunks, final, dist.sha256, dist.size)
    except OSError as exc:
        raise PyMigrateError("cannot write %s into the store %s: %s" % (dist.filename, store_dir, exc))
    finally:
        response.close()
    if not matched:
        raise PyMigrateError("%s from %s does not match the index: sha256 %s (%d bytes), expected %s (%s bytes); "
                             "the file was deleted" % (dist.filename, redact(dist.index_url), sha256, size,
                                                       dist.sha256, dist.size if dist.size is not None else "?"),
                             hint="The index or a proxy serves other bytes than it lists: investigate before retrying")
    return final


def fetch_all(files: t.Sequence[DistFile], store_dir: str, client, max_workers: int = 8, progress=None) -> list:
    """Download every missing file in parallel; returns the files downloaded. Fails on the first error.
    ``progress`` (a callable taking a line) hears a line per 10 % of the bytes fetched."""
    for dist in files:
        if not dist.sha256:
            raise PyMigrateError("the index gives no sha256 for %s; a hash is the proof of the same bytes, so it "
                                 "cannot be bundled" % dist.filename, hint="Use an index that publishes sha256 hashes")
    todo = missing_files(files, store_dir, repair=True)
    if not todo:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="pymigrate-fetch") as pool:
        futures = {pool.submit(_download, client, dist, store_dir): dist for dist in todo}
        total, done, shown = sum(dist.size or 0 for dist in todo) or 1, 0, 0
        try:
            for count, future in enumerate(concurrent.futures.as_completed(futures), 1):
                future.result()
                done += futures[future].size or 0
                if progress and done * 10 // total > shown:
                    shown = done * 10 // total
                    progress("fetched %d %% (%d of %d file(s), %.1f of %.1f MB)"
                             % (min(shown * 10, 100), count, len(todo), done / 1e6, total / 1e6))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return todo
