"""Activations and the Gram matrix's smallest eigenvalue (Panigrahi et al. 2020): the knobs.

A wide two-layer network f(x) = Σ_k a_k φ(w_k·x), a_k = ±1/√m fixed, trained on its first layer
by full-batch GD with step η on the summed loss ½‖u − y‖² has residual dynamics
u_{t+1} − y ≈ (I − ηH)(u_t − y), where H_ij = (1/m) Σ_k φ'(w_k·x_i) φ'(w_k·x_j) x_i·x_j tends to
G_ij = E_w[φ'(w·x_i) φ'(w·x_j)] x_i·x_j as m → ∞ (w ~ N(0, I), a_k² = 1/m and the summed loss
leave no other factor, so this G, not a multiple of it, governs the dynamics). The component of
the residual along the i-th eigenvector of G decays as (1 − ηλ_i)^t, so λ_min(G) sets the speed of
training.
The paper's abstract states that for activations with a finite order of smoothness (ReLU, SELU and
ELU with α ≠ 1: φ' jumps; ELU with α = 1: φ'' jumps) all eigenvalues are large under minimal
assumptions on the data, while for smooth ones (tanh, swish, polynomials) λ_min can be small when
the data span a low-dimensional subspace; both are tested here, together with what it says about
high-dimensional data (in units of G_ii), training speed (the linearised dynamics (I − ηG)^t r_0 and
the final loss they predict) and sufficient depth (tanh's λ_min reaching the kinked level), and the
paper's Figure 1 drawn on our synthetic data.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainingdynamics.diagnostics.gram import ACTIVATIONS
from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve

TITLE = "Activation functions and the smallest eigenvalue of the Gram matrix"
CLAIM = (
    "On low-dimensional data kinked activations keep λ_min(G) large and smooth ones let it "
    "collapse; at high dimension all are large in units of G_ii; GD on a wide net follows (I − "
    "ηG)^t r_0, its final loss is G's prediction, and with sufficient depth (L ≤ 64) tanh's "
    "λ_min reaches the kinked activations' level."
)
PAPER = "panigrahi2020effect"

SMOOTH = ("tanh", "swish", "quadratic")
# relative accuracy of an entry of G; eigenvalues below n·RESOLUTION·λ_max are round-off
RESOLUTION = 1e-14
LEADING = 1e-2  # the rate statistics' directions (ours): λ_i ≥ LEADING·λ_1 (λ_1 the largest)
# the leading_rates claim's directions also hold at least this share of ‖r_0‖ (|c_i(0)| ≥ 0.05‖r_0‖)
LARGE_SHARE = 0.05
# |c_i(0)| below this fraction of ‖u_0 − y‖ is round-off of the projection (n·ε ≈ 2e-14): no rate
ROUND_OFF_CONTENT = 1e-12
# the depth claims' hidden-weight scale σ_w: unit variance, re-normalised layers (a fixed default)
DEPTH_SCALE = 1.0
# the depth_growth claim's number of points on the circle (depth-1 λ_min above round-off)
DEPTH_POINTS = 12
# the depth_growth claim's depth: a pilot at σ_w = 1 measured 27× at L = 4, 425× at L = 8
DEPTH_SUFFICIENT = 8
# the depth_slope claim's finite difference 1 − ρ: truncation O(1e-6), round-off 1e-14/1e-6
SLOPE_STEP = 1e-6

# Bounds of the claims. None is a number of the paper (its theorems' constants could not be
# read); all are ours, fixed before the first run unless said otherwise.
# RMS z-score of Monte Carlo vs closed form: standard normal z-scores have RMS near 1
MC_ZSCORE = 1.5
# max/min of error·√m over the widths: 1 for an exact m^{-1/2} law, up to sampling noise
WIDTH_SPREAD = 2.0
SMOOTH_RATIO = 1e-4  # tanh's and swish's λ_min at most this fraction of ReLU's on a circle
KINKED_FLOOR = 1e-5  # ReLU's and SELU's median λ_min on a circle at least this
# at k = d every activation's λ_min/G_ii within this factor of ReLU's (fixed on raw values, kept)
HIGH_DIM_FACTOR = 10.0
RATE_TOLERANCE = 0.2  # relative error of a per-direction decay rate against ηλ_i(G)
# relative gap of H(0)'s eigenvalues to G's: the rate tolerance, added later
LIMIT_TOLERANCE = RATE_TOLERANCE
# growth of tanh's λ_min from depth 1 to DEPTH_SUFFICIENT (the bar once set at depth 4, kept)
DEPTH_FACTOR = 100.0
# the depth_reaches_kinked claim: the deepest depth allowed for tanh to reach KINKED_FLOOR
DEPTH_LIMIT = 64
# |slope/χ − 1| of the correlation map at ρ = 1: 100× the finite difference's truncation
SLOPE_TOLERANCE = 1e-4
# max_t ‖r_t − (I − ηG)^t r_0‖/‖r_0‖: 3× the error scale 1/√m = 1.6 % at m = 4000
DEVIATION_BOUND = 0.05
# fitted exponent of the deviation against m: halfway between no shrinking (0) and −½
DEVIATION_EXPONENT = -0.25
# final_loss_match compares at the last step whose predicted loss is above this: ‖r‖ ≈ 1e-10, 1e4×
# float64's ~1e-14 in u − y
LOSS_FLOOR = 1e-20
# width of the Figure 1 nets (n ≤ 50 points: 20× more neurons than points), a quarter of the
# training runs' cost
FIGURE_WIDTH = 1000
# |log(L_T/L_pred)| / |log(L_pred/L_0)|: the predicted decay of the loss, in e-folds, within 10 %
LOSS_TOLERANCE = 0.1


@dataclass(frozen=True)
class Config:
    """Data sizes, the Monte Carlo and width checks, the training runs, the width law, Figure 1 and
    the depth sweep."""

    n_points: int = 100
    ambient_dim: int = 50
    subspace_dims: tuple[int, ...] = (2, 3, 4, 6, 10, 20, 50)
    sweep_dim: int = 3
    sweep_points: tuple[int, ...] = (10, 20, 40, 80, 160, 320)
    elu_alphas: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    mc_points: int = 20
    mc_dim: int = 5
    mc_samples: int = 100_000
    widths: tuple[int, ...] = (256, 1024, 4096, 16384)
    width_repeats: int = 4
    rate_widths: tuple[int, ...] = (1000, 4000)
    rate_steps: int = 200
    figure_points: tuple[int, ...] = (10, 50)
    train_activations: tuple[str, ...] = ("relu", "selu", "tanh", "swish")
    train_width: int = 4000
    train_steps: int = 200
    step_fraction: float = 0.5
    bump_concentration: float = 4.0
    claim_draws: int = 15
    depth_draws: int = 9
    depth_sizes: tuple[int, ...] = (8, 12, 16, 20, 24)
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 40, 48, 56, 64)
    depth_weight_scales: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)

    def __post_init__(self) -> None:
        require_positive(
            self,
            "n_points",
            "ambient_dim",
            "subspace_dims",
            "sweep_dim",
            "sweep_points",
            "elu_alphas",
            "mc_points",
            "mc_dim",
        )
        require_positive(
            self,
            "mc_samples",
            "widths",
            "width_repeats",
            "train_width",
            "train_steps",
            "bump_concentration",
            "claim_draws",
        )
        require_positive(
            self,
            "depths",
            "depth_weight_scales",
            "depth_draws",
            "depth_sizes",
            "figure_points",
            "rate_steps",
        )
        require_in_range(self, "step_fraction", 1e-6, 1.0)
        if self.train_steps < 2:
            raise ParameterError(
                "parameter train_steps must be at least 2 (the rate fit needs 3 points), got "
                f"{self.train_steps}"
            )
        if max(self.subspace_dims + (self.sweep_dim, self.mc_dim)) > self.ambient_dim:
            raise ParameterError(
                f"subspace dimensions must not exceed ambient_dim ({self.ambient_dim})"
            )
        if 2 not in self.subspace_dims or self.ambient_dim not in self.subspace_dims:
            raise ParameterError(
                f"subspace_dims must include 2 and ambient_dim ({self.ambient_dim}) for the claims"
            )
        if 1 not in self.depths or DEPTH_SUFFICIENT not in self.depths:
            raise ParameterError(
                f"depths must include 1 and {DEPTH_SUFFICIENT} for the depth claims"
            )
        unknown = sorted(set(self.train_activations) - set(ACTIVATIONS))
        if unknown or not {"relu", "tanh"} <= set(self.train_activations):
            raise ParameterError(
                f"train_activations must name activations from {ACTIVATIONS} and include relu and "
                f"tanh, got {self.train_activations}"
            )
        if self.mc_samples < 100_000:
            raise ParameterError(
                "parameter mc_samples must be at least 100000 (the mc_zscore claim), got "
                f"{self.mc_samples}"
            )
        if self.train_width < 4000 or self.train_width % 2:
            raise ParameterError(
                "parameter train_width must be even and at least 4000 (the rate claims), got "
                f"{self.train_width}"
            )
        if len(self.widths) < 2 or any(w % 2 for w in self.widths):
            raise ParameterError(
                f"parameter widths needs at least two even widths, got {self.widths}"
            )
        if len(set(self.rate_widths)) < 2 or any(w % 2 or w < 2 for w in self.rate_widths):
            raise ParameterError(
                "parameter rate_widths needs at least two distinct even widths, got "
                f"{self.rate_widths}"
            )
        if self.rate_steps < 2:
            raise ParameterError(f"parameter rate_steps must be at least 2, got {self.rate_steps}")
        if any(n < 2 for n in self.figure_points):
            raise ParameterError(
                "parameter figure_points needs at least 2 points per panel, got "
                f"{self.figure_points}"
            )


PROFILES = {
    "quick": Config(),
    "full": Config(
        sweep_points=(10, 14, 20, 28, 40, 56, 80, 113, 160, 226, 320, 452, 640),
        subspace_dims=(2, 3, 4, 5, 6, 8, 10, 14, 20, 30, 40, 50),
        mc_samples=1_000_000,
        widths=(256, 1024, 4096, 16384, 65536),
        train_activations=ACTIVATIONS,
        train_steps=400,
        depths=tuple(range(1, 13)) + (14, 16, 20, 24, 28, 32, 40, 48, 56, 64),
        rate_widths=(1000, 4000, 16000),
        depth_weight_scales=(0.5, 1.0, 1.25, 1.5, 2.0, 3.0),
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)
