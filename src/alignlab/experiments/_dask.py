"""The Dask side of the executors: a secured local cluster started with retries, or a client of an
existing scheduler, and the loop that hands each job's outcome back as it ends.

Security (see :mod:`alignlab.experiments.executors` and ``docs/executors.md``): a local cluster
always speaks TLS with a temporary self-signed certificate made for the run, held in memory and
never written to disk, so a local process without it cannot connect. An existing scheduler is
reached with ``ExecutorConfig.security``: a YAML or JSON file, a mapping, or a
``distributed.Security``; without one, the TLS settings of Dask's own configuration
(``distributed.comm.tls.*``, :func:`dask_config_security`) apply, and an address without a
protocol becomes ``tls://`` when they require encryption.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

#: Tries to start a local cluster, and the waits before the second and later tries (seconds).
START_TRIES = 3
START_BACKOFF_S = (1.0, 3.0)

#: Keys of a flat security file: ``distributed.Security``'s own argument names.
SECURITY_KEYS = ("tls_ca_file", "tls_client_cert", "tls_client_key", "tls_ciphers")
_PATH_KEYS = ("tls_ca_file", "tls_client_cert", "tls_client_key")


class ClusterStartError(RuntimeError):
    """The local Dask cluster did not start after :data:`START_TRIES` tries."""


def reason(exc: BaseException, causes: int = 0) -> str:
    """``Type: message`` of an error, and of up to ``causes`` of its causes, on one line."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) <= causes:
        text = " ".join(str(seen).split())
        parts.append(f"{type(seen).__name__}: {text}" if text else type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    line = " <- ".join(dict.fromkeys(parts))
    return line if len(line) <= 300 else line[:297] + "..."


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "the dask executor needs Dask distributed: pip install 'alignlab[dask]'"
        ) from None
    return distributed


# -- security ----------------------------------------------------------------------------------
def temporary_security():
    """A TLS ``Security`` with a new self-signed certificate for every role, held in memory."""
    try:
        return _distributed().Security.temporary()
    except ImportError:
        raise ImportError(
            "the local Dask cluster is secured with a temporary TLS certificate, which needs "
            "the cryptography package: pip install 'alignlab[dask]'"
        ) from None


def load_security(source: Any):
    """``ExecutorConfig.security`` as a ``distributed.Security`` (None when not given).

    ``source`` is a ``Security``, a mapping, or the path of a YAML or JSON file holding one of
    two forms: flat, with ``Security``'s argument names (``tls_ca_file``, ``tls_client_cert``,
    ``tls_client_key``, optional ``tls_ciphers`` and ``require_encryption``); or Dask's own
    configuration form (``distributed: comm: tls: {ca-file, client: {cert, key}}``). Relative
    paths in a file are taken from the file's folder. TLS is required unless
    ``require_encryption: false`` says otherwise.
    """
    if source is None:
        return None
    distributed = _distributed()
    if isinstance(source, distributed.Security):
        return source
    if isinstance(source, Mapping):
        where, base, mapping = "ExecutorConfig.security", Path.cwd(), source
    elif isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        where, base, mapping = f"security file {path}", path.parent, _read_mapping(path)
    else:
        raise ValueError(
            "ExecutorConfig.security must be the path of a YAML or JSON file, a mapping or a "
            f"distributed.Security, got {type(source).__name__}"
        )
    flat = _flatten(mapping, where)
    for key in _PATH_KEYS:
        if flat.get(key) is None:
            continue
        file = Path(str(flat[key])).expanduser()
        file = file if file.is_absolute() else base / file
        if not file.is_file():
            raise FileNotFoundError(f"{where}: {key} {file} is not a file")
        flat[key] = str(file.resolve())
    if not (flat.get("tls_ca_file") and flat.get("tls_client_cert")):
        raise ValueError(
            f"{where} must name at least tls_ca_file and tls_client_cert (and tls_client_key "
            "unless the key is in the certificate file)"
        )
    flat.setdefault("require_encryption", True)
    return distributed.Security(**flat)


#: Dask configuration keys of a client's TLS settings (``distributed.comm.tls.*``), as read by
#: ``distributed.Security()``: from ``~/.config/dask/*.yaml`` or ``DASK_DISTRIBUTED__COMM__...``.
DASK_TLS_KEYS = {
    "tls_ca_file": "distributed.comm.tls.ca-file",
    "tls_client_cert": "distributed.comm.tls.client.cert",
    "tls_client_key": "distributed.comm.tls.client.key",
}


def dask_config_security():
    """The TLS settings in Dask's own configuration as a ``distributed.Security``, or None when
    it names none (then a ``tcp://`` scheduler is reached without encryption).

    This is how ``alignlab run --executor dask --scheduler ...`` reaches a TLS scheduler: put
    ``distributed.comm.tls.ca-file``, ``distributed.comm.tls.client.cert`` / ``.key`` (and
    ``distributed.comm.require-encryption: true``) in a Dask config file or ``DASK_*``
    variables. A file named there that does not exist is a one-line error naming the key.
    """
    import dask

    distributed = _distributed()
    for key in DASK_TLS_KEYS.values():
        file = dask.config.get(key, None)
        pem = isinstance(file, str) and "-----BEGIN" in file  # Dask takes PEM text too
        if file and not pem and not Path(str(file)).expanduser().is_file():
            raise FileNotFoundError(
                f"Dask configuration {key} names {file}, which is not a file; fix it in your "
                "Dask config (~/.config/dask/*.yaml or DASK_DISTRIBUTED__COMM__TLS__... variables)"
            )
    security = distributed.Security()  # reads distributed.comm.tls.* and require-encryption
    named = security.require_encryption or any(
        getattr(security, attr, None) for attr in DASK_TLS_KEYS
    )
    return security if named else None


def _read_mapping(path: Path) -> Mapping:
    import yaml

    if not path.is_file():
        raise FileNotFoundError(f"security file {path} does not exist or is not a file")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = " ".join(str(exc).split())
        raise ValueError(f"security file {path} is not valid YAML or JSON: {problem}") from None
    if not isinstance(loaded, Mapping):
        raise ValueError(f"security file {path} must hold a mapping of TLS settings")
    return loaded


def _flatten(mapping: Mapping, where: str) -> dict[str, Any]:
    if "distributed" in mapping:  # Dask's configuration form
        comm = (mapping.get("distributed") or {}).get("comm") or {}
        tls = comm.get("tls") or {}
        client = tls.get("client") or {}
        flat = {
            "tls_ca_file": tls.get("ca-file"),
            "tls_client_cert": client.get("cert"),
            "tls_client_key": client.get("key"),
            "tls_ciphers": tls.get("ciphers"),
        }
        if comm.get("require-encryption") is not None:
            flat["require_encryption"] = bool(comm["require-encryption"])
        return {k: v for k, v in flat.items() if v is not None}
    unknown = sorted(set(mapping) - {*SECURITY_KEYS, "require_encryption"})
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; expected "
            f"{', '.join(SECURITY_KEYS)}, require_encryption, or Dask's 'distributed:' form"
        )
    return {k: v for k, v in mapping.items() if v is not None}


def scheduler_address(address: str, security) -> str:
    """``address`` with ``tls://`` in front when it names no protocol and TLS is configured."""
    encrypted = security is not None and security.require_encryption
    if "://" not in address:
        return f"tls://{address}" if encrypted else address
    if encrypted and not address.startswith("tls://"):
        raise ValueError(
            f"the security configuration requires TLS, but the scheduler address {address} is "
            "not tls://; use tls://HOST:PORT"
        )
    return address


# -- the local cluster -------------------------------------------------------------------------
def _new_cluster(workers: int, gpu: bool, security):
    """One LocalCluster on 127.0.0.1: TLS, one thread per worker process, and no dashboard or
    other HTTP routes (Dask keeps an HTTP listener; it gets a random 127.0.0.1 port)."""
    import dask

    no_http = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
    with dask.config.set(no_http):
        return _distributed().LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            security=security,
            silence_logs=logging.ERROR,
            resources={"GPU": 1} if gpu else None,
        )


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Drop the driver's Dask log records (tracebacks of a failed start) while starting."""
    handlers = logging.getLogger("distributed").handlers

    def drop(record: logging.LogRecord) -> bool:
        return False

    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)


def start_local_cluster(workers: int, gpu: bool, security, log: Callable[[str], None]):
    """Start a LocalCluster, trying again after a short wait when a worker dies while starting.

    Raises :class:`ClusterStartError` (one line) after :data:`START_TRIES` failed tries.
    """
    last: Exception | None = None
    for attempt in range(1, START_TRIES + 1):
        try:
            with _quiet_dask_logs():
                return _new_cluster(workers, gpu, security)
        except Exception as exc:  # noqa: BLE001 - a failed start is retried, then reported
            last = exc
            if attempt < START_TRIES:
                wait = START_BACKOFF_S[min(attempt, len(START_BACKOFF_S)) - 1]
                why = reason(exc, causes=2)
                log(
                    f"the local Dask cluster did not start ({why}); trying again in {wait:g} s "
                    f"(try {attempt + 1} of {START_TRIES})"
                )
                time.sleep(wait)
    assert last is not None
    raise ClusterStartError(
        f"the local Dask cluster did not start after {START_TRIES} tries "
        f"(last: {reason(last, causes=2)}); "
        "the machine may be short of memory or processes: try fewer workers or the local "
        "executor, and start alignlab from a script only under `if __name__ == '__main__':`"
    ) from None


# -- running jobs ------------------------------------------------------------------------------
def _one_torch_thread(fn: Callable[[Any], Any], job: Any) -> Any:
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return fn(job)


class DaskBackend:
    """A client (and the local cluster it owns, if any) that runs the jobs of every phase."""

    def __init__(self, client, cluster=None, gpu: bool = False, security=None) -> None:
        self.client, self.cluster, self.gpu, self.security = client, cluster, gpu, security

    @property
    def address(self) -> str:
        return self.client.scheduler.address

    def run(self, jobs: Sequence[Any], fn: Callable, finished: Callable) -> None:
        from distributed import as_completed

        resources = {"GPU": 1} if self.gpu else None
        futures = {
            self.client.submit(
                _one_torch_thread,
                fn,
                job,
                key=f"alignlab-{job.phase}-{job.key}",
                pure=False,
                resources=resources,
            ): job
            for job in jobs
        }
        try:
            for future in as_completed(list(futures)):
                job = futures.pop(future)
                error = future.exception()
                outcome = error if error is not None else future.result()
                future.release()
                finished(job, outcome)
        except BaseException:
            self.client.cancel(list(futures))
            raise

    def close(self, wait: bool = True) -> None:
        with contextlib.suppress(Exception):
            self.client.close(timeout=10 if wait else 2)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=10 if wait else 2)


def open_dask(config, log: Callable[[str], None]) -> DaskBackend:
    """Connect to ``config.scheduler``, or start a secured local cluster for the run."""
    distributed = _distributed()
    if config.scheduler:
        given = config.security is not None
        security = load_security(config.security) if given else dask_config_security()
        address = scheduler_address(config.scheduler, security)
        try:
            client = distributed.Client(
                address, timeout=config.connect_timeout_s, security=security
            )
        except (OSError, TimeoutError) as exc:
            raise ValueError(
                f"the Dask scheduler at {address} did not answer within "
                f"{config.connect_timeout_s:g} s ({reason(exc)}); check the address, that the "
                "scheduler is running and that its TLS settings match the security "
                "configuration, or leave the scheduler out to start a local cluster"
            ) from None
        return DaskBackend(client, None, config.gpu, security)
    if config.security is not None:
        raise ValueError(
            "ExecutorConfig.security is for an existing scheduler; a local cluster makes its own "
            "temporary certificate (leave security out, or give a scheduler address)"
        )
    security = temporary_security()
    cluster = start_local_cluster(config.workers, config.gpu, security, log)
    try:
        client = distributed.Client(cluster, security=security, timeout=config.connect_timeout_s)
    except BaseException:
        cluster.close()
        raise
    return DaskBackend(client, cluster, config.gpu, security)
