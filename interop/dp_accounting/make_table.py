"""Computes the reference table of DP-SGD epsilons with Google's dp-accounting.

For every (sampling rate q, noise multiplier sigma, steps, delta) in the grid,
the RDP accountant composes `steps` Poisson-subsampled Gaussian mechanisms and
converts to (epsilon, delta). insitu-privacy's Rust accountant must reproduce
each epsilon to 1e-3 relative; the test reading this table lives in
crates/insitu-privacy/tests/accountant_matches_dp_accounting.rs.

Run: ./run.sh   (creates .venv, installs dp-accounting, rewrites the fixture)
"""

import json
import sys

import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant as rdp

SAMPLING_RATES = [0.001, 0.01, 0.05, 0.2, 1.0]
NOISE_MULTIPLIERS = [0.5, 0.8, 1.1, 2.0, 5.0]
STEPS = [1, 100, 1000, 10000]
DELTAS = [1e-5, 1e-7]


def epsilon(q, sigma, steps, delta):
    accountant = rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(
        q, dp_accounting.GaussianDpEvent(sigma)
    )
    accountant.compose(event, steps)
    eps, order = accountant.get_epsilon_and_optimal_order(delta)
    return float(eps), float(order)


def main(out_path):
    rows = []
    for q in SAMPLING_RATES:
        for sigma in NOISE_MULTIPLIERS:
            for steps in STEPS:
                for delta in DELTAS:
                    eps, order = epsilon(q, sigma, steps, delta)
                    rows.append(
                        {
                            "sampling_rate": q,
                            "noise_multiplier": sigma,
                            "steps": steps,
                            "delta": delta,
                            "epsilon": eps,
                            "optimal_order": order,
                        }
                    )
    table = {
        "generated_by": "interop/dp_accounting/make_table.py",
        "dp_accounting_version": getattr(dp_accounting, "__version__", "unknown"),
        "accountant": "RdpAccountant, default orders, PoissonSampledDpEvent(GaussianDpEvent)",
        "orders": [float(o) for o in rdp.DEFAULT_RDP_ORDERS],
        "rows": rows,
    }
    with open(out_path, "w") as f:
        json.dump(table, f, indent=1)
        f.write("\n")
    print(f"wrote {len(rows)} rows to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1])
