"""The quickstart's figure: the loss, and the distance to X⁺y under its exact bound."""

from __future__ import annotations

from trainingdynamics import plotting
from trainingdynamics.studies.quickstart.analysis import predicted_rate
from trainingdynamics.studies.quickstart.experiment import GDRun


def plot_convergence(result: GDRun):
    """Left: the training loss. Right: ‖w_t − X⁺y‖ with the bound ρ^t‖X⁺y‖ dashed."""
    rho = predicted_rate(result.eta, result.problem.eigenvalues)
    errors, t = result.history.values("error"), result.history.steps("error")
    fig, (ax_loss, ax_err) = plotting.figure(ncols=2)
    ax_loss.semilogy(result.history.steps("loss"), result.history.values("loss"))
    plotting.label(ax_loss, "GD step", "training loss $L(w_t)$", "Loss")
    ax_err.semilogy(t, errors, label=r"$\|w_t - X^+y\|$")
    ax_err.semilogy(t, errors[0] * rho**t, "--", label=r"bound $\rho^t \|X^+y\|$")
    ax_err.set_ylim(bottom=1e-16)
    plotting.label(ax_err, "GD step", "distance to $X^+y$", "Distance to $X^+y$")
    ax_err.legend()
    return fig
