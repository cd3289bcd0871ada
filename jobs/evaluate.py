"""Entrypoint for ``ray job submit``: the same options as ``evaluator run``.

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \\
        python jobs/evaluate.py --config jobs/examples/sample.yaml
    ray job submit ... -- python jobs/evaluate.py --suite suites/ours.yaml --model faster-whisper:base

A suite (``--suite FILE|PRESET``) runs as one job like one dataset: the suite file is read here, by
the job's driver on the cluster, so its relative data paths resolve inside the uploaded
``--working-dir`` (see docs/suites.md).

Inside a job, ``RAY_ADDRESS`` is set, so the driver joins the job's cluster (sending the token of
``~/.ray/auth_token`` on a token-authenticated cluster). The DuckDB file is written on the node
that runs the job's driver (the head node): give ``db`` an absolute path; a relative one is
refused, since the job runs in Ray's temporary copy of its working directory. The run id and the
database are logged at the start (`ray job logs`).
"""

import sys

from evaluator.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
