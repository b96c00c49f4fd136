"""The fused population step: ``population_step.c``, built once per machine, called by ctypes.

A step of width-12 MLPs in PyTorch is some 50 small operations, and about half its time goes
in passes over memory between the batched products (the LeakyReLU and its gradient, the
softmax, the batch gather: ``bench/synthetic_floor.py``). The C file does a member's whole
step while its activations stay in cache, so the step costs about its products alone.

It is compiled on first use with the machine's C compiler (``$CC``, else ``cc``) for this CPU
(``-march=native``) into ``$ALIGNLAB_CACHE/kernels`` (default ``~/.cache/alignlab/kernels``),
named by a hash of the source, the compiler and the CPU, then checked against
:func:`alignlab.train._step.loss_and_grad` on a small problem before it is used. Where there is
no compiler, the build fails or the check disagrees, training uses the PyTorch step (the same
numbers up to float32 rounding, about twice as slow) and says so once in a warning.
``ALIGNLAB_FUSED_STEP=0`` chooses the PyTorch step without a warning.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

from alignlab._io import cache_root
from alignlab.models.population_mlp import NEGATIVE_SLOPE, PopulationMLP

SOURCE = Path(__file__).with_name("population_step.c")
SWITCH = "ALIGNLAB_FUSED_STEP"
_TASKS = {"classification": 0, "regression": 1}
_BASE_FLAGS = ["-std=gnu11", "-O3", "-fno-math-errno", "-fPIC", "-shared", "-Wno-psabi"]
_FLAG_SETS = (  # tried in turn: vector expf/logf from glibc's libmvec, then without, then generic
    ["-march=native", "-DALIGNLAB_MVEC", "-lmvec", "-lm"],
    ["-march=native", "-lm"],
    ["-lm"],
)
_state: dict[str, str] = {}  # "reason": why the fused step is not in use


def _cpu_signature() -> str:
    """The CPU's feature flags where Linux lists them, else the platform's name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compiler_identity(compiler: str) -> str:
    done = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout


def _build(compiler: str) -> Path:
    """The shared library for this source, compiler and CPU, compiled if not already cached."""
    source = SOURCE.read_bytes()
    key = hashlib.sha256(
        b"\0".join(
            [
                source,
                _compiler_identity(compiler).encode(),
                _cpu_signature().encode(),
                repr((_BASE_FLAGS, _FLAG_SETS)).encode(),
            ]
        )
    ).hexdigest()[:16]
    folder = cache_root() / "kernels"
    target = folder / f"population_step-{key}.so"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for flags in _FLAG_SETS:
        fd, tmp = tempfile.mkstemp(prefix=".population_step.", suffix=".so", dir=folder)
        os.close(fd)
        cmd = [compiler, *_BASE_FLAGS, str(SOURCE), "-o", tmp, *flags]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode == 0:
            os.replace(tmp, target)  # atomic: a concurrent builder's file is the same
            return target
        os.unlink(tmp)
        errors.append(f"{' '.join(cmd)}: {done.stderr.strip()[-400:]}")
    raise RuntimeError("the C compiler failed:\n" + "\n".join(errors))


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    p, n, i, f = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_float
    lib.population_step.argtypes = [p, n, p, n, p, p, p, p, p, p, n, n, n, n, n, n, i, f, f]
    lib.population_step.restype = i
    lib.population_score.argtypes = [p, n, p, p, p, p, p, n, n, n, n, n, n, i, f]
    lib.population_score.restype = i
    lib.population_score_work_floats.argtypes = [n, n, n]
    lib.population_score_work_floats.restype = n
    d = ctypes.c_double
    lib.population_adamw.argtypes = [p, p, p, p, p, p, p, n, n, d, d, d, d, d]
    lib.population_adamw.restype = None
    lib.population_step_work_floats.argtypes = [n, n, n, n, n]
    lib.population_step_work_floats.restype = n
    return lib


def _self_check(lib: ctypes.CDLL) -> str | None:
    """Why the library disagrees with the PyTorch step and AdamW on a small problem, or None."""
    from alignlab.train._step import loss_and_grad  # the reference
    from alignlab.train.adamw import PopulationAdamW, clip_grad_norm_per_member_

    gen = torch.Generator().manual_seed(0)
    for task, n_out in (("classification", 3), ("regression", 1)):
        model = PopulationMLP(3, 5, 7, 2, n_out, seeds=[0, 1, 2])
        x = torch.randn(50, 5, generator=gen)
        if task == "classification":
            y = torch.randint(0, n_out, (50,), generator=gen)
        else:
            y = torch.randn(50, generator=gen)
        rows = torch.stack([torch.randperm(50, generator=gen)[:37] for _ in range(3)])
        want = torch.empty_like(model.flat.detach())
        want_loss = loss_and_grad(model, x[rows], y[rows], task, want)
        want_norms = clip_grad_norm_per_member_(want, 0.5)
        got = torch.empty_like(want)
        got_loss, got_norms = _call(lib, model, x, y, rows, task, got, {}, 0.5)
        if not (
            torch.allclose(got, want, rtol=1e-4, atol=1e-6)
            and torch.allclose(got_loss, want_loss, rtol=1e-5, atol=1e-6)
            and torch.allclose(got_norms, want_norms, rtol=1e-5, atol=1e-6)
        ):
            error = float((got - want).abs().max())
            return f"it disagrees with the PyTorch step ({task}: gradient off by {error:.3g})"
        out = model.run(x)[0]  # (P, n_out, n): the PyTorch forward pass
        if task == "classification":
            want_scores = (out.argmax(1) == y).float().mean(1)
        else:
            want_scores = ((out[:, 0] >= 0) == (y >= 0)).float().mean(1)
        first = torch.zeros(3, dtype=torch.long)
        if not torch.equal(fused_scores(model, x, y, first, 50, task, lib), want_scores):
            return f"its scores disagree with the PyTorch forward pass ({task})"
    param = torch.randn(4, 30, generator=gen)
    lrs, wds = torch.tensor([1e-3, 5e-2, 1e-2, 1e-3], dtype=torch.float64), torch.full((4,), 1e-2)
    active = torch.tensor([True, True, False, True])
    ref, fused = PopulationAdamW(param.clone(), lrs, wds), PopulationAdamW(param.clone(), lrs, wds)
    for _ in range(3):
        grad = torch.randn(4, 30, generator=gen) * active[:, None]
        ref.step(grad, active)
        fused.step_count += 1
        _adamw(lib, fused, grad, active)
    if not torch.allclose(fused.param, ref.param, rtol=1e-5, atol=1e-7):
        return "its AdamW step disagrees with PopulationAdamW's"
    return None


@functools.cache
def _library() -> ctypes.CDLL | None:
    _state.clear()
    if os.environ.get(SWITCH, "1") == "0":
        _state["reason"] = f"{SWITCH}=0"
        return None
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        reason = f"no C compiler ({compiler!r} is not on PATH)"
    else:
        try:
            lib = _load(_build(compiler))
            reason = _self_check(lib)
        except (OSError, RuntimeError, subprocess.SubprocessError) as err:
            reason = f"it could not be built: {err}"
        if reason is None:
            return lib
    _state["reason"] = reason
    warnings.warn(
        f"alignlab: the fused training step is not in use, {reason}; training runs the "
        f"PyTorch step instead (the same results, about twice as slow). Install a C compiler "
        f"(or set CC) for the fast step, or set {SWITCH}=0 to choose the PyTorch step quietly.",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def fused_step_available(like: Tensor) -> bool:
    """Whether :func:`fused_loss_and_grad` runs for float32 tensors on ``like``'s device
    (a CPU; the first call builds or loads the library)."""
    return like.device.type == "cpu" and like.dtype == torch.float32 and _library() is not None


def fused_step_reason() -> str | None:
    """Why the fused step is not in use, after :func:`fused_step_available` said False."""
    return _state.get("reason")


def training_step() -> str:
    """Which step ``train_population`` takes on a CPU here: ``"fused C step"``, or
    ``"PyTorch step (why)"``. Recorded in every run's ``environment.json``."""
    if fused_step_available(torch.zeros(0)):
        return "fused C step"
    return f"PyTorch step ({fused_step_reason()})"


def _call(lib, model, x, y, rows, task, grad, buffers, max_norm) -> tuple[Tensor, Tensor]:
    n_members, b = model.n_members, rows.shape[-1]
    dims = (model.in_features, model.width, model.depth, model.out_features)
    key = ("fused", n_members, dims, b)
    if key not in buffers:
        size = lib.population_step_work_floats(*dims, b)
        buffers[key] = (torch.empty(size), torch.empty(n_members), torch.empty(n_members))
    work, loss, norms = buffers[key]
    flat = model.flat.detach()
    rows_stride = 0 if rows.shape[0] == 1 else rows.stride(0)
    status = lib.population_step(
        x.data_ptr(), x.stride(0), rows.data_ptr(), rows_stride, y.data_ptr(),
        flat.data_ptr(), grad.data_ptr(), loss.data_ptr(), norms.data_ptr(), work.data_ptr(),
        n_members, *dims, b, _TASKS[task], NEGATIVE_SLOPE,
        -1.0 if max_norm is None else float(max_norm),
    )  # fmt: skip
    if status != 0:
        raise ValueError(f"population_step rejected its sizes {dims} with batch {b}")
    return loss.clone(), norms.clone()


def _adamw(lib, opt, grad: Tensor, active: Tensor) -> None:
    """``opt``'s AdamW step (its ``step_count`` already advanced) by the C update."""
    p, n = opt.param.shape
    lib.population_adamw(
        opt.param.data_ptr(), grad.data_ptr(), opt.exp_avg.data_ptr(), opt.exp_avg_sq.data_ptr(),
        opt.lrs.data_ptr(), opt.wds.data_ptr(), active.data_ptr(), p, n,
        1 - opt.beta1**opt.step_count, (1 - opt.beta2**opt.step_count) ** 0.5,
        opt.beta1, opt.beta2, opt.eps,
    )  # fmt: skip


def _data_problem(model: PopulationMLP, x: Tensor, y: Tensor, task: str) -> str | None:
    """What keeps ``x``, ``y`` and ``model`` from the C functions (float32 contiguous rows on
    a CPU, labels or targets of the task's dtype), or None."""
    flat = model.flat.detach()
    if not all(t.device.type == "cpu" for t in (x, y, flat)):
        return "the fused step runs on a CPU only"
    if not (x.dim() == 2 and x.shape[1] >= model.in_features and x.stride(1) == 1):
        return f"x must be (N, >= {model.in_features}) with contiguous rows"
    want_y = torch.long if task == "classification" else torch.float32
    if y.dtype != want_y or x.dtype != torch.float32 or not y.is_contiguous():
        return f"{task} needs float32 x and contiguous {want_y} y"
    if flat.dtype != torch.float32 or not flat.is_contiguous():
        return "the model's parameters must be contiguous float32"
    return None


@torch.no_grad()
def fused_scores(
    model: PopulationMLP, x: Tensor, y: Tensor, first: Tensor, n: int, task: str, lib=None
) -> Tensor | None:
    """Every member's score (P,) on its own ``n`` samples, rows ``first[p]`` to
    ``first[p] + n - 1`` of ``x`` (N, >= in_features) and ``y`` (N,), by one C forward pass
    per member: what :func:`alignlab.train.result.score_population` computes. None where it
    cannot run (no library; not float32 on a CPU; rows of ``x`` not contiguous), for the
    caller's PyTorch path. ``first`` is int64 (P,); its values are not checked."""
    if _data_problem(model, x, y, task) is not None:
        return None
    flat = model.flat.detach()
    lib = lib or _library()
    if lib is None or n < 1:
        return None
    first = first.to(torch.long).contiguous()
    dims = (model.in_features, model.width, model.depth, model.out_features)
    work = torch.empty(lib.population_score_work_floats(dims[0], dims[1], dims[3]))
    scores = torch.empty(model.n_members)
    status = lib.population_score(
        x.data_ptr(), x.stride(0), first.data_ptr(), y.data_ptr(), flat.data_ptr(),
        scores.data_ptr(), work.data_ptr(), model.n_members, *dims, n, _TASKS[task],
        NEGATIVE_SLOPE,
    )  # fmt: skip
    if status != 0:
        raise ValueError(f"population_score rejected its sizes {dims} with {n} samples")
    return scores


def fused_adamw_step(opt, grad: Tensor, active: Tensor | None) -> bool:
    """``opt.step(grad, active)`` by the C update where it runs (CPU float32 contiguous
    parameters, gradient and moments; float64 hyperparameters): True if it ran."""
    tensors = (opt.param, grad, opt.exp_avg, opt.exp_avg_sq)
    if not all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors):
        return False
    if not all(t.is_contiguous() for t in (*tensors, opt.lrs, opt.wds)):
        return False
    lib = _library()
    if lib is None or opt.lrs.dtype != torch.float64 or opt.lrs.device.type != "cpu":
        return False
    if active is None:
        active = torch.ones(opt.param.shape[0], dtype=torch.bool)
    opt.step_count += 1
    _adamw(lib, opt, grad, active.contiguous())
    return True


@torch.no_grad()
def fused_loss_and_grad(
    model: PopulationMLP,
    x: Tensor,
    y: Tensor,
    rows: Tensor,
    task: str,
    grad: Tensor,
    buffers: dict,
    max_norm: float | None = None,
    checked: bool = False,
) -> tuple[Tensor, Tensor]:
    """Every member's mean loss on its batch ``rows`` and gradient norm, its gradient written
    into ``grad``: what ``loss_and_grad(model, x[rows], y[rows], task, grad)`` and then
    ``clip_grad_norm_per_member_(grad, max_norm)`` give, without the gather.

    Parameters
    ----------
    model : PopulationMLP with P members, float32 on the CPU
    x : Tensor of shape (N, d) with d >= in_features, float32; its first in_features columns
        are the inputs (so :func:`~alignlab.train._step.with_ones`'s column is ignored)
    y : Tensor of shape (N,): int64 labels in [0, out_features), or float32 targets
    rows : int64 Tensor of shape (P, b), or (1, b) for one batch shared by every member,
        with values in [0, N); its last axis contiguous
    task : "classification" or "regression"
    grad : contiguous float32 Tensor of shape (P, n_params), overwritten
    buffers : dict kept between calls (work arrays)
    max_norm : float, optional
        Clip each member's gradient to this L2 norm (no clipping without it).
    checked : bool, default False
        The arguments were checked by an earlier call with the same ``x`` and ``y`` and come
        from the same loop (``train_population``'s): skip the checks (about 12 us a call).

    Returns
    -------
    (loss, norms): Tensors of shape (P,), the mean losses and the gradients' norms before
    clipping.

    The sizes are checked; the values of ``rows`` and ``y`` are not (``train_population``
    validated them): an index out of range reads outside the arrays.
    """
    lib = _library()
    if checked and lib is not None:
        return _call(lib, model, x, y, rows, task, grad, buffers, max_norm)
    n_members = model.n_members
    problem = _data_problem(model, x, y, task)
    if problem is not None:
        raise ValueError(problem)
    if rows.dtype != torch.long or rows.dim() != 2 or rows.shape[0] not in (1, n_members):
        raise ValueError(f"rows must be int64 (P or 1, b), got {tuple(rows.shape)} {rows.dtype}")
    if rows.stride(1) != 1 or y.shape != x.shape[:1]:
        raise ValueError("rows needs a contiguous last axis and y the shape (N,)")
    if grad.shape != (n_members, model.n_params) or not grad.is_contiguous():
        raise ValueError(f"grad must be contiguous ({n_members}, {model.n_params})")
    if lib is None:
        raise RuntimeError(f"the fused step is not available: {fused_step_reason()}")
    return _call(lib, model, x, y, rows, task, grad, buffers, max_norm)
