"""BROJA decomposition: textbook distributions, dit's own entry point, the task-bit reduction and
consistency with the exact information of the synthetic generator."""

import importlib.util
import math
import sys

import numpy as np
import pytest

from alignlab.data.information import mmi_pid
from alignlab.data.labels import all_states, state_index
from alignlab.data.pid import (
    PID_INSTALL_HINT,
    broja_pid,
    broja_pid_joint,
    broja_pid_table,
    synthetic_joint,
)
from alignlab.data.synthetic import SyntheticConfig, information_content

LN2 = math.log(2)
needs_dit = pytest.mark.skipif(
    importlib.util.find_spec("dit") is None,
    reason=f"dit is not installed: {PID_INSTALL_HINT}",
)
TINY = {"shared_bits": 2, "unique_bits": 2, "task_bits": 3}  # r = 1: u1 = u2 = 1, noise bits too


def _table(f, n1=2, n2=2):
    """p(x1, x2, y) with x1, x2 uniform and independent and y = f(x1, x2)."""
    ys = [f(a, b) for a in range(n1) for b in range(n2)]
    p = np.zeros((n1, n2, max(ys) + 1))
    for a in range(n1):
        for b in range(n2):
            p[a, b, f(a, b)] += 1.0 / (n1 * n2)
    return p


def _terms(res):
    return np.array([res.redundancy, res.unique1, res.unique2, res.synergy])


def _with_noise_bits(p):
    """Each source gets one extra uniform bit of its own, independent of everything."""
    n1, n2, ny = p.shape
    out = np.zeros((2 * n1, 2 * n2, ny))
    for e1 in range(2):
        for e2 in range(2):
            out[e1 * n1 : (e1 + 1) * n1, e2 * n2 : (e2 + 1) * n2] = p / 4
    return out


AND = _table(lambda a, b: a & b)
XOR = _table(lambda a, b: a ^ b)
COPY = _table(lambda a, b: 2 * a + b)
RDN = np.zeros((2, 2, 2))
RDN[0, 0, 0] = RDN[1, 1, 1] = 0.5  # y = x1 = x2
AND_RED = 0.75 * math.log2(4 / 3)  # I(X1; Y) of AND, ~0.311 bits: all of it redundant
TEXTBOOK = {  # (R, U1, U2, S) in bits
    "and": (AND, (AND_RED, 0.0, 0.0, 0.5)),
    "xor": (XOR, (0.0, 0.0, 0.0, 1.0)),
    "copy": (COPY, (0.0, 1.0, 1.0, 0.0)),
    "redundant bit": (RDN, (1.0, 0.0, 0.0, 0.0)),
    "redundant bit, own noise": (_with_noise_bits(RDN), (1.0, 0.0, 0.0, 0.0)),
    "xor, own noise": (_with_noise_bits(XOR), (0.0, 0.0, 0.0, 1.0)),
}


@needs_dit
@pytest.mark.parametrize("name", list(TEXTBOOK))
def test_textbook_distributions(name):
    p, expected = TEXTBOOK[name]
    res = broja_pid_joint(p)
    np.testing.assert_allclose(_terms(res), expected, atol=1e-4)
    assert res.mi_x1x2_y == pytest.approx(sum(expected), abs=1e-12)
    # the exact value lies in the certified bracket
    exact_u1 = expected[1]
    assert res.unique1 - res.bound - 1e-9 <= exact_u1 <= res.unique1 + 1e-9
    assert res.bound < 1e-4


@needs_dit
def test_and_is_not_what_mmi_says_for_copy():
    """MMI gives COPY 1 bit of redundancy (min of the MIs); BROJA gives none: y = (x1, x2)
    holds both bits separately."""
    res = broja_pid_joint(COPY)
    mmi = mmi_pid(LN2, LN2, 2 * LN2)
    assert mmi.redundancy / LN2 == pytest.approx(1.0) and res.redundancy < 1e-6


@needs_dit
def test_agrees_with_dit_pid_broja():
    """dit's own entry point (its scipy solver at this size) on a small generator config."""
    import dit
    from dit.pid import PID_BROJA

    p = synthetic_joint(SyntheticConfig(r=1, **TINY))
    idx = np.argwhere(p > 0)
    d = dit.Distribution([tuple(int(v) for v in i) for i in idx], p[p > 0].tolist())
    ref = PID_BROJA(d, [[0], [1]], [2])
    expected = [
        float(ref[((0,), (1,))]),
        float(ref[((0,),)]),
        float(ref[((1,),)]),
        float(ref[((0, 1),)]),
    ]
    res = broja_pid_joint(p)
    assert res.unique1 > 0.01 and res.unique2 > 0.01  # both unique terms positive, unlike MMI
    np.testing.assert_allclose(_terms(res), expected, atol=1e-3)


def _full_joint(config):
    """p(x1, x2, y) over every raw bit state of both modalities (before any transform)."""
    s, u = config.shared_bits, config.unique_bits
    k = np.arange(2 ** (s + 2 * u))
    states = all_states(s + 2 * u)  # [x_c, x_u1, x_u2], MSB first
    xc, xu1, xu2 = states[:, :s], states[:, s : s + u], states[:, s + u :]
    bits = config.chosen_bits()
    z = np.concatenate(
        [xc[:, list(bits.shared)], xu1[:, list(bits.unique1)], xu2[:, list(bits.unique2)]],
        axis=1,
    )
    x1 = state_index(np.concatenate([xc, xu1], axis=1))
    x2 = state_index(np.concatenate([xc, xu2], axis=1))
    p_y = config.label_model().p_y_given_z[state_index(z)] / len(k)
    joint = np.zeros((2 ** (s + u), 2 ** (s + u), p_y.shape[1]))
    np.add.at(joint, (x1, x2), p_y)
    return joint


@needs_dit
@pytest.mark.parametrize("r", [0, 1, 2])
def test_task_bit_reduction_preserves_the_decomposition(r):
    """The full (x1, x2, y) of a small config, with unchosen shared and own bits, against the
    reduced p(z1, z2, y) that broja_pid uses."""
    config = SyntheticConfig(r=r, **TINY)
    full = _full_joint(config)
    assert full.shape[0] > synthetic_joint(config).shape[0]  # there are bits to drop
    a, b = broja_pid_joint(full), broja_pid(config)
    if r == 2:  # u1 = 0: the reduced table has the closed form; admUI nears it from above
        assert b.method == "closed form" and a.method == "admui"
        assert b.unique1 == 0.0 and 0.0 <= a.unique1 < 2e-4
        np.testing.assert_allclose(_terms(a), _terms(b), atol=2e-4)
    else:  # same solver on the same problem: the noise bits change nothing
        np.testing.assert_allclose(_terms(a), _terms(b), atol=1e-6)


@needs_dit
@pytest.mark.parametrize("r", [0, 3, 7, 8])
def test_generator_is_consistent_with_the_exact_information(r):
    config = SyntheticConfig(r=r)
    res = broja_pid(config)
    info = information_content(config)
    i1, i2, i12 = info.mi_x1_y / LN2, info.mi_x2_y / LN2, info.mi_x1x2_y / LN2
    assert sum(_terms(res)) == pytest.approx(i12, abs=1e-9)
    assert res.redundancy + res.unique1 == pytest.approx(i1, abs=1e-9)
    assert res.redundancy + res.unique2 == pytest.approx(i2, abs=1e-9)
    assert min(_terms(res)) >= -1e-9 and res.bound < 0.01
    # BROJA's redundancy is at most MMI's min(I1, I2); its synergy at most MMI's
    mmi = info.pid
    assert res.redundancy <= mmi.redundancy / LN2 + 1e-9
    assert res.synergy <= mmi.synergy / LN2 + 1e-9


@needs_dit
def test_one_modality_inside_the_other_is_exact():
    """r = 7: modality 1 sees only shared task bits, so U1 = 0 and S = 0, and BROJA = MMI."""
    config = SyntheticConfig(r=7)
    res = broja_pid(7)
    mmi = information_content(config).pid
    assert res.method == "closed form" and res.bound == 0.0
    expected = [mmi.redundancy, mmi.unique1, mmi.unique2, mmi.synergy]
    np.testing.assert_allclose(_terms(res), np.array(expected) / LN2, atol=1e-12)
    assert res.unique2 > 0.2


@needs_dit
def test_table_entry_point_matches_the_config_one():
    config = SyntheticConfig(r=2, **TINY)
    bits = config.chosen_bits()
    a = broja_pid_table(config.label_model().p_y_given_z, bits.seen_by(1), bits.seen_by(2))
    np.testing.assert_allclose(_terms(a), _terms(broja_pid(config)), atol=1e-12)
    assert set(a.as_dict()) >= {"redundancy_bits", "unique1_bits", "mi_x1x2_y_bits", "bound_bits"}


def test_missing_dit_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dit", None)
    monkeypatch.setitem(sys.modules, "dit.algorithms", None)
    monkeypatch.setitem(sys.modules, "dit.algorithms.admui", None)
    with pytest.raises(ImportError) as err:
        broja_pid_joint(XOR)
    message = str(err.value)
    assert "pip install 'alignlab[pid]'" in message and "\n" not in message


def test_rejects_a_table_that_is_not_a_distribution():
    pytest.importorskip("dit", reason=f"dit is not installed: {PID_INSTALL_HINT}")
    with pytest.raises(ValueError, match="sum to 1"):
        broja_pid_joint(XOR * 2)
