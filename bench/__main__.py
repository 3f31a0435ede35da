"""`python -m bench` / `make bench BENCH_ARGS="..."`: see bench/README.md."""

from bench.runner import main

raise SystemExit(main())
