"""Device and dtype selection shared by every layer.

A device is named ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``, or
``mps``. :func:`check_device_name` refuses a name torch does not know (used when a spec is read,
on any machine); :func:`resolve_device` also refuses a device this machine does not have, with
one line saying what to use instead, rather than a traceback from deep inside torch.
"""

from __future__ import annotations

import torch

CHOICES = "device must be cpu, cuda, cuda:N or auto (or mps)"


def default_device() -> torch.device:
    """The device work runs on when the caller names none: CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device_name(device: str | torch.device | None) -> None:
    """A ValueError when ``device`` is no device name torch knows (``"tpu"``, ``"gpu0"``).

    Whether this machine has the device is not checked (a spec written for a GPU machine is
    read on any machine); :func:`resolve_device` checks that.

    >>> check_device_name("cuda:1")
    >>> check_device_name("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device 'gpu' is not a device name: device must be cpu, cuda, cuda:N or auto (or mps)
    """
    if device is None or isinstance(device, torch.device) or device == "auto":
        return
    if not isinstance(device, str):
        raise ValueError(f"device must be a name such as cpu or cuda; got {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"device {device!r} is not a device name: {CHOICES}") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r} is not supported by alignlab: {CHOICES}")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``None``, ``"auto"`` or a device name into a ``torch.device`` this machine has.

    Raises
    ------
    ValueError
        An unknown name, or a device that is not here (``cuda`` without a CUDA GPU, ``cuda:3``
        on a machine with two), naming the device and what to use instead.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or device == "auto":
        return default_device()
    check_device_name(device)
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {str(device)!r}: no CUDA GPU is available on this machine (torch "
                f"{torch.__version__}, torch.cuda.is_available() is False); use cpu or auto"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"device {str(device)!r}: this machine has {count} CUDA GPU(s), "
                f"cuda:0 to cuda:{count - 1}; use one of them or auto"
            )
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError(f"device {str(device)!r}: MPS is not available here; use cpu or auto")
    return dev
