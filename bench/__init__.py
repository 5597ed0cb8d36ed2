"""casavi-bridge benchmarks: ``python -m bench [--tickets N] [--json PATH] [--quick]`` (or ``make bench``).

Not part of the test suite's pass/fail: the targets live here, the tests only keep the
benchmark running (``tests/integration/test_bench_quick.py``).  Everything runs against the
built-in sandboxes, as real processes (``python -m bench.sandbox_host`` and
``casavi-bridge run``), with the same latency on both sides, in one run — the machine is
shared and noisy, so ratios are only compared within one run.

What is measured (``bench.scenarios``):

1. initial mirror of N uniform tickets (the generator's ``"bench"`` profile), its requests per
   ticket on each side, its ratio to the lower bound L (``bench.design``), and a serial
   baseline (concurrency 1) on a smaller sample;
2. requests per idle poll of the running daemon at two sizes;
3. one tenant comment on one ticket of the large size: time and requests until it is in Jira;
4. peak RSS (VmHWM) of the daemon at both sizes.

``bench.report`` prints the table (metric, value, target, met?) and writes the JSON
(default ``bench/results/latest.json``; ``bench/results/`` is not versioned).
"""
