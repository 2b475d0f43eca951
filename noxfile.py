"""nox sessions: `tests` (benchmarks skipped), `bench` (benchmarks only, JSON saved), `lint` (ruff), `services`
(the tests marked `services` against a PostgreSQL and an MLflow server that .ci/services.sh starts and stops).

On a CPU-only machine the sessions install the CPU torch build first (torch==2.13.0), as the README says.
"""

import nox

nox.options.sessions = ["lint", "tests"]
TORCH = "torch==2.13.0"


@nox.session
def tests(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[test]")
    session.run("pytest", "--benchmark-skip", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[test,cluster]")  # the workers benchmark needs dask
    session.run("pytest", "tests/benchmarks", "--benchmark-only", "--benchmark-json=benchmark.json",
                "--benchmark-columns=min,median,max,rounds", *session.posargs)


@nox.session
def services(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[test,cluster]")
    args = " ".join(session.posargs)
    session.run("bash", "-c", "set -e; trap '.ci/services.sh stop' EXIT; .ci/services.sh start; "
                f'source "${{HMRBENCH_SERVICES_DIR:-${{TMPDIR:-/tmp}}/hmrbench-services}}/env"; '
                f"pytest -m services --benchmark-skip {args}", external=True)  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bench", "methods", "datasets", "reports", "tests", "noxfile.py")
