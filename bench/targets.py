"""The speed targets, evaluated from the measured rows: speed ratios measured back to back in one
run."""

from __future__ import annotations

from bench.costs import CHUNKED, UNCHUNKED
from bench.covariance import LAYERED_GRAM, OURS_GRADIENTS, SPECTRA
from bench.hessian import OURS, PEERS

TOP1_SPEEDUP = 1.0  # "top-1 in ≤ 1× the fastest peer's time"
TOPK_SPEEDUP = 2.0  # "top-10 in ≤ ½ the fastest peer's time"
CHUNKED_RATIO = 1.2  # a chunked product costs at most 1.2× an unchunked one
HUTCHPP_ERROR_RATIO = 0.5  # Hutch++'s RMS error at most ½ Hutchinson's at equal products
# SLQ against the dense spectrum: ∫|φ_SLQ − φ_dense| (at most 2) with both broadened by 2 % of the
# range; 0.1 was fixed before the first run, from the test suite's small networks.
DENSITY_L1 = 0.1
LOOP_SPEEDUP = 5.0
BACKPACK_SPEEDUP = 1.0  # "no slower than BackPACK + Gram"
BOOK_FULL_SECONDS = 600.0
REBUILD_SECONDS = 10.0


def cases(rows: list[dict]) -> list[tuple[str, int]]:
    """The distinct (model, n) pairs of ``rows``, in order of appearance."""
    return list(dict.fromkeys((r["model"], r["n"]) for r in rows))


def fastest_accurate(rows: list[dict], method: str, accuracy: float) -> dict | None:
    """The quickest setting of ``method`` whose every eigenvalue is within ``accuracy`` (relative),
    or None."""
    accurate = [r for r in rows if r["method"] == method and r["max_rel_error"] <= accuracy]
    return min(accurate, key=lambda r: r["seconds"], default=None)


def eigen_target(
    rows: list[dict], method: str, accuracy: float, threshold: float, label: str
) -> dict:
    """The fastest peer's time to ``accuracy`` over ``method``'s (peers' defaults if none gets
    there)."""
    present = [peer for peer in PEERS if any(r["method"] == peer for r in rows)]
    reached = [r for r in (fastest_accurate(rows, p, accuracy) for p in present) if r is not None]
    mine = fastest_accurate(rows, method, accuracy)
    note = []
    if reached:
        theirs = min(reached, key=lambda r: r["seconds"])
    else:
        defaults = [next(r for r in rows if r["method"] == p) for p in present]
        theirs = min(defaults, key=lambda r: r["seconds"])
        note.append(
            f"the peers did not reach {accuracy:g} in any setting: compared with the fastest "
            "default "
            f"({theirs['method']}, {theirs['setting']}, error {theirs['max_rel_error']:.1e})"
        )
    if mine is None:
        mine = min((r for r in rows if r["method"] == method), key=lambda r: r["max_rel_error"])
        note.append(f"{method} did not reach {accuracy:g}: its most accurate setting is used")
    ratio = theirs["seconds"] / mine["seconds"]
    return {
        "target": label,
        "method": method,
        "case": f"{rows[0]['model']}, n={rows[0]['n']}",
        "ours": described(mine),
        "peer": f"{theirs['method']}: {described(theirs)}",
        "ratio": ratio,
        "threshold": threshold,
        "met": ratio >= threshold,
        "note": "; ".join(note),
    }


def described(row: dict) -> str:
    """Seconds, setting, products and error of one eigenvalue row."""
    return (
        f"{row['seconds']:.3g} s ({row['setting']}, {row['n_hvp']} HVPs, "
        f"error {row['max_rel_error']:.1e})"
    )


def eigen_targets(rows: list[dict], accuracy: float, top_k: int) -> list[dict]:
    """Top-1 (≤ 1× the fastest peer's time at the same accuracy) and top-k (≤ ½), per case."""
    found = []
    for model, n in cases(rows):
        for k, threshold in ((1, TOP1_SPEEDUP), (top_k, TOPK_SPEEDUP)):
            case = [r for r in rows if (r["model"], r["n"], r["k"]) == (model, n, k)]
            found.append(
                eigen_target(
                    case,
                    OURS,
                    accuracy,
                    threshold,
                    f"top-{k} Hessian eigenvalue{'s' if k > 1 else ''}",
                )
            )
    return found


def covariance_target(
    case: str, method: str, mine: float, peer: str, theirs: float, threshold: float, note: str
) -> dict:
    """One gradient-covariance target row: the peer's seconds over ours against ``threshold``."""
    return {
        "target": f"gradient-covariance top eigenvalue vs {peer}",
        "method": method,
        "case": case,
        "ours": f"{mine:.3g} s",
        "peer": f"{theirs:.3g} s",
        "ratio": theirs / mine,
        "threshold": threshold,
        "met": theirs / mine >= threshold,
        "note": note,
    }


def covariance_targets(rows: list[dict]) -> list[dict]:
    """Ours ≥ 5× faster than the per-example loop and ≥ 1× BackPACK.

    Our vmap pipelines are compared with each peer's gradients followed by the same spectrum
    route; the layered Gram (no per-example gradients) with each peer followed by its faster route.
    """
    found = []
    for model, n in cases(rows):
        stage = {
            (r["stage"], r["method"]): r["seconds"]
            for r in rows
            if (r["model"], r["n"]) == (model, n)
        }
        case = f"{model}, n={n}"
        peers = (("per-example loop", LOOP_SPEEDUP), ("BackPACK BatchGrad", BACKPACK_SPEEDUP))
        for route in SPECTRA:
            mine = stage["gradients", OURS_GRADIENTS] + stage["spectrum", route]
            for peer, threshold in peers:
                gain = stage["gradients", peer] / stage["gradients", OURS_GRADIENTS]
                theirs = stage["gradients", peer] + stage["spectrum", route]
                found.append(
                    covariance_target(
                        case,
                        f"{OURS_GRADIENTS} + {route}",
                        mine,
                        peer,
                        theirs,
                        threshold,
                        f"gradients alone: {gain:.2f}×",
                    )
                )
        if ("both", LAYERED_GRAM) in stage:
            fastest = min(SPECTRA, key=lambda route: stage["spectrum", route])
            for peer, threshold in peers:
                theirs = stage["gradients", peer] + stage["spectrum", fastest]
                found.append(
                    covariance_target(
                        case,
                        LAYERED_GRAM,
                        stage["both", LAYERED_GRAM],
                        peer,
                        theirs,
                        threshold,
                        f"peer followed by {fastest}",
                    )
                )
    return found


def book_targets(book: dict) -> list[dict]:
    """Whole book at full within 10 minutes; unchanged rebuild within 10 s (None = not measured)."""
    full = book["totals"]["full"]
    rebuild = book["rebuild"] or {}
    html = rebuild.get("seconds")
    if html is not None:
        rebuild_note = (
            "`trainingdynamics build --profile full` with every chapter fresh: hashes, cache "
            "checks and the HTML build"
        )
    elif "error" in rebuild:
        rebuild_note = f"not measured ({rebuild['error']})"
    else:
        rebuild_note = (
            f"not measured: {rebuild.get('fresh', 0)} of {rebuild.get('chapters', 0)} chapters "
            "were fresh at the full profile (run the full build first)"
        )
    whole = None if full is None or html is None else full + html
    return [
        {
            "target": "whole book at the full profile",
            "case": "all chapters",
            "seconds": whole,
            "threshold_s": BOOK_FULL_SECONDS,
            "met": None if whole is None else whole <= BOOK_FULL_SECONDS,
            "note": f"chapters' recorded times ({full:.0f} s) plus the HTML build (timed in the "
            "rebuild)"
            if whole is not None
            else "not measured: needs every chapter's full-profile time in _build/claims and a "
            "timed rebuild",
        },
        {
            "target": "unchanged rebuild",
            "case": "all chapters",
            "seconds": html,
            "threshold_s": REBUILD_SECONDS,
            "met": None if html is None else html <= REBUILD_SECONDS,
            "note": rebuild_note,
        },
    ]


def chunked_targets(rows: list[dict]) -> list[dict]:
    """A chunked product (chunks linearised once) at most 1.2× an unchunked one, per case."""
    found = []
    for model, n in cases(rows):
        ms = {r["method"]: r["ms_per_product"] for r in rows if (r["model"], r["n"]) == (model, n)}
        ratio = ms[CHUNKED] / ms[UNCHUNKED]
        found.append(
            {
                "target": "chunked HVP / unchunked HVP",
                "case": f"{model}, n={n}",
                "value": ratio,
                "threshold": CHUNKED_RATIO,
                "met": ratio <= CHUNKED_RATIO,
                "note": f"{ms[CHUNKED]:.3g} vs {ms[UNCHUNKED]:.3g} ms per product",
            }
        )
    return found


def trace_targets(rows: list[dict]) -> list[dict]:
    """Hutch++'s RMS error at most ½ Hutchinson's at equal products, per case."""
    found = []
    for model, n in cases(rows):
        error = {r["method"]: r for r in rows if (r["model"], r["n"]) == (model, n)}
        ratio = error["Hutch++"]["rms_rel_error"] / error["Hutchinson"]["rms_rel_error"]
        found.append(
            {
                "target": "Hutch++ error / Hutchinson error",
                "case": f"{model}, n={n}",
                "value": ratio,
                "threshold": HUTCHPP_ERROR_RATIO,
                "met": ratio <= HUTCHPP_ERROR_RATIO,
                "note": f"RMS relative error over {error['Hutch++']['seeds']} seeds at "
                f"{error['Hutch++']['matvecs']} products each: "
                f"{error['Hutch++']['rms_rel_error']:.1e} vs "
                f"{error['Hutchinson']['rms_rel_error']:.1e}",
            }
        )
    return found


def density_targets(rows: list[dict]) -> list[dict]:
    """SLQ's smoothed density within L1 distance 0.1 of the dense one, for H and K."""
    return [
        {
            "target": f"SLQ density of {r['matrix']}: L1 distance to the dense density",
            "case": f"{r['model']}, n={r['n']}, P={r['params']}",
            "value": r["l1_distance"],
            "threshold": DENSITY_L1,
            "met": r["l1_distance"] <= DENSITY_L1,
            "note": f"{r['probes']} probes × {r['steps']} steps; σ = {r['sigma_fraction']:g} of "
            "the "
            f"range; moments 1, 2 within {r['moment1_rel_error']:.1e}, "
            f"{r['moment2_rel_error']:.1e}",
        }
        for r in rows
    ]
