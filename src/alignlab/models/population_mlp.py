"""A population of independent MLP encoders of one depth, stored as stacked weights.

The encoder is the protocol's (the release's ``CustomMLP`` with ``nonlin="leaky_relu"``)::

    Linear(d_in, w), LeakyReLU(0.1), [Linear(w, w), LeakyReLU(0.1)] x (depth - 1), head

that is ``depth`` Linear layers each followed by its activation, so the encoder ends with an
activation and has exactly ``depth`` feature layers (the output of every activation), and then a
linear head ``w -> out_features``. ``depth = 1`` is ``Linear, LeakyReLU, head``.

All members' parameters live in one flat tensor ``flat`` of shape (P, n_params): member ``p``'s
row holds, layer by layer, its weight ``(d_out, d_in)`` (row-major, as ``nn.Linear.weight``)
and then its bias ``(d_out,)``. Per-layer views of shape (P, d_out, d_in) and (P, d_out, 1) are
taken from it in the forward pass, so one member's optimizer state, gradient norm and checkpoint
are one row, and the whole population steps with a few tensor ops.

Inside, activations are feature-major, (P, width, n): samples along the contiguous last axis
make the batched products, the bias broadcast and the softmax over classes several times faster
on a CPU than the (P, n, width) layout (measured: log-softmax over a last axis of 4 classes is
~20x slower than over axis 1). The public ``forward`` and ``features`` return (P, n, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NEGATIVE_SLOPE = 0.1  # the protocol's LeakyReLU(0.1)


def _linear_init_(weight: Tensor, bias: Tensor, generator: torch.Generator) -> None:
    """``nn.Linear.reset_parameters`` with an explicit generator (same draws, same order)."""
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(weight.shape[1]) if weight.shape[1] > 0 else 0.0
    nn.init.uniform_(bias, -bound, bound, generator=generator)


def _layer_sizes(in_features: int, width: int, depth: int, out_features: int) -> list[tuple]:
    """(d_in, d_out) of every Linear layer, encoder first and head last."""
    return [(in_features, width)] + [(width, width)] * (depth - 1) + [(width, out_features)]


def plain_mlp(
    in_features: int, width: int, depth: int, out_features: int, seed: int
) -> nn.Sequential:
    """The reference model as a plain ``nn.Sequential``: encoder layers then the head.

    Its parameters are exactly those ``torch.manual_seed(seed)`` followed by building the same
    ``nn.Sequential`` would give, but drawn from a private generator, so global random state is
    neither read nor changed.

    >>> net = plain_mlp(12, 12, 2, 4, seed=0)
    >>> [type(m).__name__ for m in net]
    ['Linear', 'LeakyReLU', 'Linear', 'LeakyReLU', 'Linear']
    >>> net(torch.zeros(3, 12)).shape
    torch.Size([3, 4])
    """
    generator = torch.Generator().manual_seed(seed)
    modules: list[nn.Module] = []
    sizes = _layer_sizes(in_features, width, depth, out_features)
    for i, (d_in, d_out) in enumerate(sizes):
        modules.append(nn.Linear(d_in, d_out, device="meta"))  # meta: no global draws
        if i < depth:
            modules.append(nn.LeakyReLU(NEGATIVE_SLOPE))
    net = nn.Sequential(*modules).to_empty(device="cpu")
    with torch.no_grad():
        for linear in net[::2]:
            _linear_init_(linear.weight, linear.bias, generator)
    return net


class PopulationMLP(nn.Module):
    """``n_members`` independent MLPs of the same depth and width, run as one batched model.

    Parameters
    ----------
    n_members : int
        Population size P.
    in_features, width, depth, out_features : int
        Input size, hidden width, number of encoder layers (= number of feature layers, >= 1)
        and head size (number of classes, or 1 for regression).
    seeds : sequence of P int
        Member ``p`` is initialised exactly as ``plain_mlp(..., seed=seeds[p])``.

    >>> pop = PopulationMLP(3, 12, 12, 2, 4, seeds=[0, 1, 2])
    >>> pop(torch.zeros(5, 12)).shape  # (P, n, out_features)
    torch.Size([3, 5, 4])
    >>> [f.shape for f in pop.features(torch.zeros(5, 12))]  # depth layers of (P, n, width)
    [torch.Size([3, 5, 12]), torch.Size([3, 5, 12])]
    """

    def __init__(
        self,
        n_members: int,
        in_features: int,
        width: int,
        depth: int,
        out_features: int,
        seeds: Sequence[int],
    ) -> None:
        super().__init__()
        for name, value in (
            ("n_members", n_members),
            ("in_features", in_features),
            ("width", width),
            ("depth", depth),
            ("out_features", out_features),
        ):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        seeds = [int(s) for s in seeds]
        if len(seeds) != n_members:
            raise ValueError(
                f"seeds has {len(seeds)} entries but n_members={n_members}; "
                "give one initialisation seed per member"
            )
        self.n_members, self.in_features, self.width = n_members, in_features, width
        self.depth, self.out_features, self.seeds = depth, out_features, seeds
        self.layer_sizes = _layer_sizes(in_features, width, depth, out_features)
        self.split_sizes = [n for d_in, d_out in self.layer_sizes for n in (d_in * d_out, d_out)]

        flat = torch.empty(n_members, sum(self.split_sizes))  # (P, n_params)
        for p, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(seed)
            for w, b in self.layers(flat[p : p + 1]):  # layer by layer, as nn.Sequential
                _linear_init_(w[0], b[0, :, 0], generator)  # the nn.Linear layout
        self.flat = nn.Parameter(flat)

    @property
    def config(self) -> dict[str, int]:
        """What rebuilds the architecture (seeds aside), as stored in checkpoints."""
        return {
            "in_features": self.in_features,
            "width": self.width,
            "depth": self.depth,
            "out_features": self.out_features,
        }

    @property
    def n_params(self) -> int:
        """Number of parameters of one member."""
        return self.flat.shape[1]

    def layers(self, flat: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        """Per-layer views ``(weight (P, d_out, d_in), bias (P, d_out, 1))`` of ``flat``.

        ``flat`` is (P, n_params) laid out like the parameters (default: the parameters
        themselves), e.g. a gradient or optimizer moment; encoder layers first, head last.

        >>> pop = PopulationMLP(2, 5, 3, 1, 4, seeds=[0, 1])
        >>> [tuple(w.shape) for w, _ in pop.layers()]
        [(2, 3, 5), (2, 4, 3)]
        """
        flat = self.flat if flat is None else flat
        chunks = torch.split(flat, self.split_sizes, dim=1)
        n = flat.shape[0]
        return [
            (chunks[2 * i].view(n, d_out, d_in), chunks[2 * i + 1].view(n, d_out, 1))
            for i, (d_in, d_out) in enumerate(self.layer_sizes)
        ]

    def run(self, x: Tensor, keep_features: bool = False) -> tuple[Tensor, list[Tensor]]:
        """Outputs and features in the feature-major layout the trainer uses.

        Parameters
        ----------
        x : Tensor of shape (n, in_features), shared by all members, or (P, n, in_features)

        Returns
        -------
        out : Tensor of shape (P, out_features, n)
        features : list of ``depth`` tensors of shape (P, width, n), empty unless asked for
        """
        n_members = self.n_members
        if x.dim() not in (2, 3) or x.shape[-1] != self.in_features:
            raise ValueError(
                f"x must have shape (n, {self.in_features}) or ({n_members}, n, "
                f"{self.in_features}), got {tuple(x.shape)}"
            )
        if x.dim() == 3 and x.shape[0] != n_members:
            raise ValueError(
                f"x has inputs for {x.shape[0]} members but the population has {n_members}"
            )
        layers = self.layers(self.flat)
        w, b = layers[0]
        if x.dim() == 2:  # shared input: one (P * width, d) @ (d, n) product for all members
            n = x.shape[0]
            z = torch.addmm(b.reshape(-1, 1), w.reshape(-1, self.in_features), x.T)
            z = z.view(n_members, self.width, n)  # (P, width, n)
        else:
            z = torch.baddbmm(b, w, x.transpose(1, 2))  # (P, width, n)
        # in place: the products' outputs are not needed by autograd, the activations are
        h = F.leaky_relu_(z, NEGATIVE_SLOPE)
        features = [h] if keep_features else []
        for w, b in layers[1:-1]:
            h = F.leaky_relu_(torch.baddbmm(b, w, h), NEGATIVE_SLOPE)  # (P, width, n)
            if keep_features:
                features.append(h)
        w, b = layers[-1]
        return torch.baddbmm(b, w, h), features  # (P, out_features, n)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (or regression outputs) of every member.

        Parameters
        ----------
        x : Tensor of shape (n, in_features) shared by all members, or (P, n, in_features)

        Returns
        -------
        Tensor of shape (P, n, out_features)
        """
        return self.run(x)[0].transpose(1, 2)

    def features(self, x: Tensor) -> list[Tensor]:
        """Outputs of every activation: ``depth`` contiguous tensors of shape (P, n, width).

        The last one is what the head reads. ``x`` is (n, in_features) or (P, n, in_features).
        """
        return [f.transpose(1, 2).contiguous() for f in self.run(x, keep_features=True)[1]]

    def take(self, index: Sequence[int]) -> PopulationMLP:
        """A new population of members ``index`` (in that order) with their current parameters.

        >>> pop = PopulationMLP(3, 12, 12, 2, 4, seeds=[0, 1, 2])
        >>> sub = pop.take([2, 0])
        >>> sub.seeds, bool((sub.flat == pop.flat[[2, 0]]).all())
        ([2, 0], True)
        """
        index = [int(i) for i in index]
        if not index or any(not 0 <= i < self.n_members for i in index):
            raise ValueError(f"member indices must be in [0, {self.n_members}), got {index}")
        pop = PopulationMLP(
            len(index),
            self.in_features,
            self.width,
            self.depth,
            self.out_features,
            seeds=[self.seeds[i] for i in index],
        )
        with torch.no_grad():
            pop.flat.copy_(self.flat.detach()[index])
        return pop.to(self.flat.device)

    def member_as_sequential(self, p: int) -> nn.Sequential:
        """A plain ``nn.Sequential`` copy of member ``p`` with its current parameters.

        >>> pop = PopulationMLP(2, 12, 12, 1, 4, seeds=[7, 8])
        >>> x = torch.randn(5, 12)
        >>> torch.allclose(pop.member_as_sequential(1)(x), pop(x)[1], atol=1e-6)
        True
        """
        if not 0 <= p < self.n_members:
            raise ValueError(f"member index must be in [0, {self.n_members}), got {p}")
        net = plain_mlp(self.in_features, self.width, self.depth, self.out_features, seed=0)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        views = self.layers(self.flat.detach()[p : p + 1])
        with torch.no_grad():
            for linear, (w, b) in zip(linears, views, strict=True):
                linear.weight.copy_(w[0])
                linear.bias.copy_(b[0, :, 0])
        return net.to(self.flat.device)

    def extra_repr(self) -> str:
        return (
            f"n_members={self.n_members}, in_features={self.in_features}, width={self.width}, "
            f"depth={self.depth}, out_features={self.out_features}"
        )
