"""BROJA partial information decomposition of the synthetic label, computed with ``dit``.

``I(X1, X2; Y) = R + U1 + U2 + S`` where, after Bertschinger, Rauh, Olbrich, Jost and Ay (2014,
"Quantifying unique information", Entropy 16, 2161), the unique information of modality 1 is

    ``U1 = min over Q in Delta_P of I_Q(Y; X1 | X2)``,
    ``Delta_P = {Q(x1, x2, y): Q(x1, y) = P(x1, y) and Q(x2, y) = P(x2, y)}``,

``U2`` the same with the roles swapped, ``R = I(Y; X1) - U1 = I(Y; X2) - U2`` and
``S = I(Y; X1, X2) - R - U1 - U2``. Unlike the MMI decomposition of
:mod:`alignlab.data.information`, both unique terms can be positive at once. This needs the
optional package ``dit`` (``pip install 'alignlab[pid]'``).

Solver
------
The minimisation is the admUI algorithm (Banerjee, Rauh and Montufar 2018, "Computing the
unique information") as ``dit`` implements it, ``dit.algorithms.admui.admui_optimize``: the
solver that ``dit.pid.PID_BROJA`` selects itself for joints of 125 states or more. It is called
directly because ``PID_BROJA`` first builds a dense optimiser over the whole joint that it does
not use on that route, which for the synthetic set at ``r = 8`` (256 x 256 x 4 states) asks for
128 GiB. The tests check that both give the same numbers where ``PID_BROJA`` fits.

admUI returns a ``Q`` in ``Delta_P`` (its marginals match to ~1e-11), so ``I_Q(Y; X1 | X2)`` is
an achievable value: an upper bound on ``U1``, approached from above as it iterates; its
convergence is slow where the optimum has zeros. Every result therefore also carries a
certified lower bound from the dual of the problem, ``max sum lambda(x1, y) P(x1, y) + sum
mu(x2, y) P(x2, y) + H(Y | X2)`` subject to ``log sum_y exp(lambda(x1, y) + mu(x2, y)) <= 0``
for every ``(x1, x2)``, with ``lambda``, ``mu`` fitted to ``log Q(y | x1, x2)`` and then shifted
until feasible: ``PIDResult.bound`` is the width of that bracket. It is rigorous but can be
loose where the optimum has many (near-)zero entries: a few 1e-3 bits for the paper's
generator at ``r <= 6`` after the default 300 iterations, but over a bit for a 3-bit teacher
whose ``p(y | z)`` has exact zeros, although the value itself agrees there with
``PID_BROJA``'s to 1e-3. The same ``Q`` is optimal for
``U1`` and ``U2`` (on ``Delta_P`` they differ by the constant ``I(Y; X1) - I(Y; X2)``), so the
bracket holds for all four terms: ``unique1`` and ``unique2`` are at most ``bound`` above the
exact values, ``redundancy`` and ``synergy`` at most ``bound`` below. ``R`` is taken as
``I(Y; X1) - U1`` and ``S`` as the remainder, so the four terms add up to ``I(Y; X1, X2)``.

When one modality is a function of the other (``r = 7`` and ``8`` in the synthetic set, where
modality 1 sees only shared task bits), no solver is needed: ``P`` itself is in ``Delta_P``
with ``I_P(Y; X1 | X2) = 0``, so ``U1 = 0``, ``R = I(Y; X1)``, ``U2 = I(Y; X2) - I(Y; X1)`` and
``S = 0``, exactly.

Why the synthetic set can be reduced to its task bits
-----------------------------------------------------
Modality ``i`` is ``X_i = (Z_i, N_i)``: ``Z_i`` the task bits it sees (the ``r`` chosen shared
bits and its own ``u_i`` chosen unique bits) and ``N_i`` its other bits (the unchosen shared bits
``N_c``, which both modalities see, and its unchosen own bits). ``(N_c, N_1, N_2)`` is uniform and
independent of ``(Z, Y)``, since ``Y`` is drawn from ``p(y | z)`` alone. Then every term of the
decomposition of ``(X1, X2; Y)`` equals that of ``(Z1, Z2; Y)``:

- ``I(Y; X_i) = I(Y; Z_i)`` and ``I(Y; X1, X2) = I(Y; Z)``, the noise bits being independent of
  ``(Z, Y)``.
- ``U1`` depends on ``P`` only through the pair marginals ``P(x1, y)`` and ``P(x2, y)``, in
  each of which ``N_i`` is independent of ``(Z_i, Y)``. That ``N_c`` is common to the two
  modalities is a property of the full joint, which ``Delta_P`` does not constrain.
  (a) From ``Q'`` feasible for ``(Z1, Z2, Y)``, ``Q = Q'(z1, z2, y) P(n1) P(n2)`` is feasible for
  ``(X1, X2, Y)`` and ``I_Q(Y; X1 | X2) = I_Q'(Y; Z1 | Z2)``: so ``U1(X) <= U1(Z)``.
  (b) From ``Q`` feasible for ``(X1, X2, Y)``, its marginal ``Q'`` on ``(Z1, Z2, Y)`` is
  feasible, and ``I_Q(Y; X1 | X2) = I_Q(Y; X1, X2) - I_Q(Y; X2)
  >= I_Q(Y; Z1, Z2) - I_P(Y; Z2) = I_Q'(Y; Z1 | Z2)``, using ``I_Q(Y; X2) = I_P(Y; X2) =
  I_P(Y; Z2)`` (the ``(X2, Y)`` marginal is fixed) and that dropping variables loses
  information: so ``U1(X) >= U1(Z)``.
- Hence ``U1``, likewise ``U2``, and so ``R`` and ``S`` are unchanged.

``tests/data/test_pid.py`` also computes the decomposition on the full ``(x1, x2, y)``
distribution of a small config (with unchosen shared and own bits) and finds the same values.
A further reduction does *not* hold: conditioning on the shared task bits and averaging the
decompositions of ``(Z_u1, Z_u2; Y | Z_c = c)`` gives different unique terms, because the
optimal ``Q`` need not keep the two copies of the shared bits equal.

The decomposition is of the untransformed modalities; an injective transform of modality 2
(see :func:`alignlab.data.synthetic.information_content`) relabels ``X2`` and changes no term.
Units are bits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from alignlab.data.information import mutual_information
from alignlab.data.labels import all_states, state_index
from alignlab.data.synthetic import SyntheticConfig

PID_INSTALL_HINT = "pip install 'alignlab[pid]'"
ADMUI_MAXITER = 300  # admUI outer iterations by default; PIDResult.bound says how close it got


@dataclass(frozen=True)
class PIDResult:
    """BROJA decomposition of ``I(X1, X2; Y)``, in bits.

    Attributes
    ----------
    redundancy, unique1, unique2, synergy : float
        The four terms; each >= 0 up to rounding and they add up to ``mi_x1x2_y``.
    mi_x1_y, mi_x2_y, mi_x1x2_y : float
        ``I(X1; Y)``, ``I(X2; Y)`` and the total ``I(X1, X2; Y)``.
    bound : float
        Certified accuracy: the exact unique terms lie in ``[unique_i - bound, unique_i]``,
        the exact redundancy and synergy in ``[value, value + bound]``. 0 for a closed form;
        rigorous but possibly loose (see the module docstring).
    method : str
        ``"admui"`` (dit's solver) or ``"closed form"`` (one modality a function of the other).
    iterations : int
        admUI outer iterations (0 for the closed form).
    seconds : float
        Wall time of the optimisation and its certificate.
    definition : str
        ``"broja"``.
    """

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    mi_x1_y: float
    mi_x2_y: float
    mi_x1x2_y: float
    bound: float
    method: str
    iterations: int
    seconds: float
    definition: str = "broja"

    def as_dict(self) -> dict:
        """JSON-ready fields, information keys suffixed ``_bits``.

        >>> r = PIDResult(0.5, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 0.0, "admui", 3, 0.01)
        >>> r.as_dict()["redundancy_bits"], r.as_dict()["definition"]
        (0.5, 'broja')
        """
        out = {}
        for name, value in asdict(self).items():
            info = name in ("redundancy", "unique1", "unique2", "synergy", "bound")
            out[f"{name}_bits" if info or name.startswith("mi_") else name] = value
        return out


def broja_pid(config: SyntheticConfig | int) -> PIDResult:
    """BROJA decomposition of the synthetic label of ``config`` (or of the paper's config at r).

    Exact: computed on the distribution :func:`synthetic_joint` builds from the teacher's
    ``p(y | z)``, with no sampling. Takes about 1 to 11 s for r = 0..6 on one core and
    milliseconds for r = 7, 8 (``docs/synthetic.md`` lists the times).

    Parameters
    ----------
    config : SyntheticConfig or int
        A config, or ``r`` for ``SyntheticConfig(r=r)``.

    Raises
    ------
    ImportError
        If ``dit`` is not installed.
    """
    if not isinstance(config, SyntheticConfig):
        config = SyntheticConfig(r=int(config))
    return broja_pid_joint(synthetic_joint(config))


def broja_pid_table(
    p_y_given_z: np.ndarray, seen1: Sequence[int], seen2: Sequence[int]
) -> PIDResult:
    """BROJA decomposition for a label of uniform bits ``z`` (as in ``exact_information``).

    Parameters
    ----------
    p_y_given_z : ndarray of shape (2**T, n_classes)
        ``p(y | z)``, row ``k`` for the ``z`` spelling ``k`` most significant bit first.
    seen1, seen2 : sequence of int
        Positions of ``z`` that modality 1 and modality 2 observe.
    """
    return broja_pid_joint(task_bit_joint(p_y_given_z, seen1, seen2))


def synthetic_joint(config: SyntheticConfig) -> np.ndarray:
    """``p(z1, z2, y)``: the task bits each modality sees and the label, exactly.

    Axis 0 is the state of ``z1`` (the ``r`` shared then ``u1`` own task bits, MSB first),
    axis 1 that of ``z2`` (``r`` shared then ``u2`` own), axis 2 the class. The module docstring
    shows why the decomposition of this distribution is that of ``(X1, X2, Y)``.

    >>> synthetic_joint(SyntheticConfig(r=4)).shape
    (64, 64, 4)
    """
    bits = config.chosen_bits()
    return task_bit_joint(config.label_model().p_y_given_z, bits.seen_by(1), bits.seen_by(2))


def task_bit_joint(
    p_y_given_z: np.ndarray, seen1: Sequence[int], seen2: Sequence[int]
) -> np.ndarray:
    """``p(z1, z2, y)`` of shape (2**len(seen1), 2**len(seen2), n_classes) for uniform ``z``.

    >>> xor = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    >>> task_bit_joint(xor, [0], [1])[1, 1].tolist()  # z = (1, 1): y = 0
    [0.25, 0.0]
    """
    p = np.asarray(p_y_given_z, dtype=np.float64)
    n_states, n_classes = p.shape
    n_bits = int(round(math.log2(n_states)))
    if 2**n_bits != n_states:
        raise ValueError(f"p_y_given_z must have 2**T rows, got {n_states}")
    seen1, seen2 = list(seen1), list(seen2)
    z = all_states(n_bits)
    i1, i2 = state_index(z[:, seen1]), state_index(z[:, seen2])
    joint = np.zeros((2 ** len(seen1), 2 ** len(seen2), n_classes))
    np.add.at(joint, (i1, i2), p / n_states)
    return joint


def broja_pid_joint(p_x1x2y: np.ndarray, maxiter: int = ADMUI_MAXITER) -> PIDResult:
    """BROJA decomposition of a joint table ``p(x1, x2, y)`` (any finite alphabets).

    Parameters
    ----------
    p_x1x2y : ndarray of shape (n1, n2, n_y)
        Non-negative, sums to 1.
    maxiter : int
        admUI outer iterations at most; more narrow ``PIDResult.bound`` (slowly).

    Raises
    ------
    ImportError
        If ``dit`` is not installed (also for the closed-form cases, so that a result never
        depends on whether it is).
    """
    admui_optimize = _admui()
    p = np.asarray(p_x1x2y, dtype=np.float64)
    if p.ndim != 3 or np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"p_x1x2y must be a finite non-negative (n1, n2, n_y) table, {p.shape}")
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"p_x1x2y must sum to 1, got {p.sum():.12g}")
    p = p[p.sum(axis=(1, 2)) > 0][:, p.sum(axis=(0, 2)) > 0][:, :, p.sum(axis=(0, 1)) > 0]
    p1, p2 = p.sum(axis=1), p.sum(axis=0)  # (n1, n_y), (n2, n_y)
    py = p1.sum(axis=0)
    mi1, mi2 = mutual_information(p1), mutual_information(p2)
    mi12 = mutual_information(p.reshape(-1, p.shape[2]))

    start = time.perf_counter()
    support = p.sum(axis=2) > 0  # (n1, n2)
    if np.all(support.sum(axis=0) == 1):  # x1 is a function of x2: U1 = 0
        u1, u2, bound, method, iterations = 0.0, mi2 - mi1, 0.0, "closed form", 0
    elif np.all(support.sum(axis=1) == 1):  # x2 is a function of x1: U2 = 0
        u1, u2, bound, method, iterations = mi1 - mi2, 0.0, 0.0, "closed form", 0
    else:
        q_yx1x2, iterations, _ = admui_optimize(p1 / py, p2 / py, py, maxiter=maxiter)
        q = np.transpose(q_yx1x2, (1, 2, 0))  # Q(x1, x2, y)
        u1 = _cmi_given_second(q)
        u2 = u1 + mi2 - mi1  # the same Q is optimal for both (see the module docstring)
        bound = max(0.0, u1 - _unique_lower_bound(p, q))
        method = "admui"
    seconds = time.perf_counter() - start

    bits = 1.0 / math.log(2)
    mi1, mi2, mi12, u1, u2, bound = (v * bits for v in (mi1, mi2, mi12, u1, u2, bound))
    terms = [mi1 - u1, u1, u2, mi12 - mi1 - u2]
    terms = [0.0 if abs(t) < 1e-12 else float(t) for t in terms]
    return PIDResult(
        *terms,
        mi_x1_y=float(mi1),
        mi_x2_y=float(mi2),
        mi_x1x2_y=float(mi12),
        bound=float(bound),
        method=method,
        iterations=int(iterations),
        seconds=seconds,
    )


def dit_available() -> bool:
    """Whether ``dit`` can be imported (the ``pid`` extra is installed)."""
    try:
        _admui()
    except ImportError:
        return False
    return True


# -- private ------------------------------------------------------------------------------------
def _admui():
    try:
        from dit.algorithms.admui import admui_optimize
    except ImportError as exc:
        raise ImportError(
            f"the BROJA decomposition needs the optional package dit: {PID_INSTALL_HINT}"
        ) from exc
    return admui_optimize


def _unique_lower_bound(p: np.ndarray, q: np.ndarray, rounds: int = 20) -> float:
    """A certified lower bound on ``U1 = min I_Q(Y; X1 | X2)`` over ``Delta_P``, in nats.

    Weak duality: for every ``lambda`` (n1, n_y) and ``mu`` (n2, n_y) with
    ``logsumexp_y(lambda[a] + mu[b]) <= 0`` for all ``(a, b)``,
    ``U1 >= H_P(Y | X2) + sum lambda P(x1, y) + sum mu P(x2, y)``. ``lambda + mu`` is fitted
    to ``log q(y | a, b)`` (weighted by ``q(a, b)``; at the optimum it is that exactly where
    ``q(a, b) > 0``), then each row ``a`` is shifted down until feasible and each column ``b`` up
    while it stays so.
    """
    from scipy.special import logsumexp

    p1, p2 = p.sum(axis=1), p.sum(axis=0)  # (a, y), (b, y)
    q_ab = q.sum(axis=2)  # (a, b)
    m = q > 0
    log_cond = np.zeros(q.shape)
    log_cond[m] = np.log(q[m]) - np.log(np.broadcast_to(q_ab[:, :, None], q.shape)[m])
    w = np.where(m, q_ab[:, :, None], 0.0)
    lam, mu = np.zeros(p1.shape), np.zeros(p2.shape)
    for _ in range(50):  # weighted two-way additive fit, per class, by back-fitting
        lam = np.sum(w * (log_cond - mu[None]), axis=1) / np.maximum(w.sum(axis=1), 1e-300)
        mu = np.sum(w * (log_cond - lam[:, None]), axis=0) / np.maximum(w.sum(axis=0), 1e-300)
    lam[p1 == 0], mu[p2 == 0] = -1e4, -1e4  # Q(a, ., y) = 0 there: no constraint on (a, b, y)
    for _ in range(rounds):
        lam = lam - logsumexp(lam[:, None, :] + mu[None, :, :], axis=2).max(axis=1)[:, None]
        mu = mu - logsumexp(lam[:, None, :] + mu[None, :, :], axis=2).max(axis=0)[:, None]
    p2_cond = p2 / p2.sum(axis=1, keepdims=True)
    h_y_given_x2 = -float(np.sum(p2[p2 > 0] * np.log(p2_cond[p2 > 0])))
    return h_y_given_x2 + float(
        np.sum(np.where(p1 > 0, lam * p1, 0.0)) + np.sum(np.where(p2 > 0, mu * p2, 0.0))
    )


def _cmi_given_second(q: np.ndarray) -> float:
    """``I(Y; A | B)`` in nats of a table ``q(a, b, y)`` (in logs: entries may be ~1e-300)."""
    q_b = np.broadcast_to(q.sum(axis=(0, 2), keepdims=True), q.shape)
    q_ab = np.broadcast_to(q.sum(axis=2, keepdims=True), q.shape)
    q_by = np.broadcast_to(q.sum(axis=0, keepdims=True), q.shape)
    m = q > 0
    log_ratio = np.log(q[m]) + np.log(q_b[m]) - np.log(q_ab[m]) - np.log(q_by[m])
    return max(0.0, float(np.sum(q[m] * log_ratio)))
