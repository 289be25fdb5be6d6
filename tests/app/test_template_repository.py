"""A team's app repository is made from the template alone, and the buildspec runs in it.

app/README.md ("Creating your app repository") tells a team to put this project's `app/` folder, and nothing else,
at the root of a new repository; CodeBuild then runs `app/buildspec.yml` from that root. These tests make such a
repository in a temporary directory: the committed `app/` folder (the working tree's, minus what app/.gitignore
keeps out of git, as `git archive` would give it), with nothing of this project around it: no tests/, no
pyproject.toml, no conftest.py. They read the copy's buildspec with PyYAML and run its phases there, each in one
bash shell (`shell: bash`, the first failing command fails the phase), with an environment of PATH, HOME, the
buildspec's variables and what CodeBuild sets, nothing inherited from this project or the caller:

- install: the buildspec's command, with `--dry-run --no-index` added. Tests have no network, so instead of
  installing, pip proves that the requirement files it names are in the copy and that the interpreter already
  satisfies them at the constrained versions (it fails otherwise). `python` is this interpreter, standing in for
  CodeBuild's `runtime-versions: python: "3.11"`.
- pre_build: the commands verbatim: the template's own tests (app/tests), the contract check, and the live contract
  gate, whose boto3 reaches a moto server (AWS_ENDPOINT_URL) holding the release bucket with a live record.
- build: no Docker engine here, so the commands run verbatim with stand-in `docker` and `aws` (app/tests/conftest.py);
  the image's build context in the copy must hold the Dockerfile and what it copies.

The copy is not a git repository: no phase uses git (CodeBuild passes the commit as CODEBUILD_RESOLVED_SOURCE_VERSION).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.tests.conftest import (
    APP,
    BUILD_ID,
    BUILD_OUTPUT,
    DIGEST,
    GIT_SHA,
    INSTALLED_MODULES,
    PIPELINE_EXECUTION_ID,
    REPOSITORY_URI,
    buildspec_commands,
    module_file,
    modules_run,
    paths_named,
    release_bundle,
    zipped,
)

# The step of app/README.md that makes the repository (`delivery` is a clone of this project, `my-app` the team's).
COPY_STEP = "git -C delivery archive HEAD app | tar -x -C my-app"
PHASE_TIMEOUT = 300
RELEASE_BUCKET = "delivery-releases-abc123"
CODEBUILD_VARIABLES = {  # what the CodeBuild project (components/build.py), the pipeline's action and CodeBuild set
    "REPOSITORY_URI": REPOSITORY_URI, "REPOSITORY_NAME": REPOSITORY_URI.split("/", 1)[1],
    "AWS_ACCOUNT_ID": "123456789012", "APP_PORT": "8080", "DRILL_FAILURE_RATE": "0",
    "DELIVERY_STACK": "dev", "RELEASE_BUCKET": RELEASE_BUCKET,
    "PIPELINE_EXECUTION_ID": PIPELINE_EXECUTION_ID, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "CODEBUILD_BUILD_ID": BUILD_ID, "CODEBUILD_RESOLVED_SOURCE_VERSION": GIT_SHA,
}
PROD_COMMIT = "abc123def4567890abc123def4567890abc123de"


def make_app_repository(root: Path) -> Path:
    """What app/README.md tells a team to do: the template's committed files, as app/ at the root of a repository."""
    ignored = [line.rstrip("/") for line in (APP / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    root.mkdir()
    shutil.copytree(APP, root / "app", ignore=shutil.ignore_patterns(*ignored))
    return root


def missing_from(repo: Path, commands: list[str]) -> list[str]:
    """What the commands name that the repository does not have: paths (besides the build's own output) and modules
    run with `python -m` (besides pip and pytest, which the install phase provides)."""
    missing = [path for command in commands for path in paths_named(command)
               if not path.startswith(BUILD_OUTPUT) and not (repo / path).exists()]
    missing += [module for command in commands for module in modules_run(command)
                if module not in INSTALLED_MODULES and module_file(repo, module) is None]
    return missing


@pytest.fixture
def app_repository(tmp_path: Path) -> Path:
    return make_app_repository(tmp_path / "my-app")


@pytest.fixture
def buildspec(app_repository: Path) -> dict:
    return yaml.safe_load((app_repository / "app" / "buildspec.yml").read_text())


@pytest.fixture
def codebuild_env(tmp_path: Path, buildspec: dict) -> dict[str, str]:
    """A fresh environment: `python` (a wrapper that runs this interpreter) first on PATH, then the system's; a HOME
    of its own; the buildspec's default variables. Nothing else: no PYTHONPATH, no PYTEST_*, no PIP_*."""
    bin_dir = tmp_path / "runtime-bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    path = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", **buildspec["env"].get("variables", {})}


def run_phase(repo: Path, commands: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A phase as CodeBuild runs it: its commands in order, in one bash shell, from the repository's root."""
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", "\n".join(commands)], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=PHASE_TIMEOUT)


def test_the_readme_gives_teams_the_copy_step_these_tests_follow():
    readme = (APP / "README.md").read_text()
    assert COPY_STEP in readme


def test_the_repository_made_from_the_template_has_the_app_folder_only(app_repository):
    assert [p.name for p in app_repository.iterdir()] == ["app"]
    assert (app_repository / "app" / "buildspec.yml").is_file()
    assert not list(app_repository.rglob("__pycache__")) and not (app_repository / "app" / "dist").exists()


def test_every_path_and_module_the_buildspec_names_is_in_the_repository(app_repository, buildspec):
    commands = buildspec_commands(buildspec)
    assert missing_from(app_repository, commands) == []
    assert buildspec["artifacts"]["base-directory"].startswith(BUILD_OUTPUT)  # the build writes it (checked below)


def test_a_buildspec_naming_a_path_outside_the_template_is_caught(app_repository):
    # What the buildspec said before the template carried its tests: this project's tests/app and its conftest.
    commands = ["python -m pytest tests/app -q", "python -m pytest tests/conftest.py", "python -m app.nothing"]
    assert missing_from(app_repository, commands) == ["tests/app", "tests/conftest.py", "app.nothing"]


def test_install_finds_its_requirement_files_in_the_repository_and_nothing_is_missing(
        app_repository, buildspec, codebuild_env):
    commands = buildspec["phases"]["install"]["commands"]
    assert all(c.startswith("python -m pip install ") for c in commands)
    result = run_phase(app_repository, [f"{c} --dry-run --no-index" for c in commands], codebuild_env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_repository_runs_its_own_app_package_not_this_projects(app_repository, codebuild_env):
    result = run_phase(app_repository, ['python -c "import app.tests.conftest as c; print(c.__file__)"'],
                       codebuild_env)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == app_repository / "app" / "tests" / "conftest.py"


@pytest.fixture
def release_bucket(aws, tmp_path):
    """The release bucket on the moto server, and the environment that reaches it as CodeBuild's credentials would
    reach AWS; `live(stack, contract)` records a release as live in a stack."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=RELEASE_BUCKET)

    def live(stack: str, contract: dict | None = None, commit: str = PROD_COMMIT) -> None:
        bundle = release_bundle(tmp_path / f"live-{stack}", contract, commit=commit)
        s3.put_object(Bucket=RELEASE_BUCKET, Key=f"live/{stack}.zip", Body=zipped(bundle))

    aws_env = {k: v for k, v in aws.env.items() if k.startswith("AWS_")}
    return live, aws_env


@pytest.mark.slow
def test_pre_build_runs_the_templates_tests_and_the_contract_gates_in_the_repository(
        app_repository, buildspec, codebuild_env, release_bucket):
    live, aws_env = release_bucket
    live("prod")  # prod runs a release whose API the service still serves
    commands = buildspec["phases"]["pre_build"]["commands"]
    result = run_phase(app_repository, commands, {**codebuild_env, **CODEBUILD_VARIABLES, **aws_env})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert re.search(r"^\d+ passed in ", result.stdout, re.MULTILINE), output[-5000:]
    # Every test module of the copy ran from the copy: pytest left its assertion-rewritten module beside each one.
    tests = app_repository / "app" / "tests"
    ran = {p.name.split(".")[0] for p in (tests / "__pycache__").glob("test_*-pytest-*.pyc")}
    assert ran == {p.stem for p in tests.glob("test_*.py")}
    assert "contract check passed: the service matches app/contract/openapi.json." in result.stdout
    assert result.stdout.splitlines()[-1] == f"compatible with the release live in prod (commit {PROD_COMMIT[:12]})"


def test_the_live_gate_fails_the_build_when_the_change_breaks_a_live_release(
        app_repository, buildspec, codebuild_env, release_bucket):
    """The gate as the buildspec runs it, in the repository, against a prod that serves an endpoint the service no
    longer has."""
    live, aws_env = release_bucket
    promised = json.loads((app_repository / "app" / "contract" / "openapi.json").read_text())
    promised["paths"]["/api/v1/orders"] = {"get": {"responses": {"200": {"description": "the orders"}}}}
    live("prod", promised)
    (gate,) = [c for c in buildspec["phases"]["pre_build"]["commands"] if "app.contract live" in c]
    result = run_phase(app_repository, [gate], {**codebuild_env, **CODEBUILD_VARIABLES, **aws_env})
    assert result.returncode == 1
    assert "  - /api/v1/orders: path removed (it had GET)" in result.stdout


@pytest.fixture
def built(app_repository, buildspec, codebuild_env, standins, tmp_path):
    """The build phase run in the repository with stand-in `docker` and `aws`, then the exported variables."""
    env = {**codebuild_env, **CODEBUILD_VARIABLES, "PATH": f"{standins.bin_dir}:{codebuild_env['PATH']}",
           "STANDIN_LOG": str(standins.log), "STANDIN_REGISTRY": str(tmp_path / "registry"),
           "STANDIN_PUSHED_DIGEST": DIGEST}
    commands = [*buildspec["phases"]["build"]["commands"],
                'echo "exported: $IMAGE_URI $IMAGE_DIGEST $RELEASE_COMMIT"']
    return run_phase(app_repository, commands, env)


def test_build_pushes_the_image_and_exports_it_by_digest_and_the_commit(built, standins):
    assert built.returncode == 0, built.stdout + built.stderr
    assert ["push", f"{REPOSITORY_URI}:{GIT_SHA}"] in standins.commands("docker")
    assert built.stdout.splitlines()[-1] == f"exported: {REPOSITORY_URI}@{DIGEST} {DIGEST} {GIT_SHA}"


def test_build_leaves_the_codedeploy_bundle_where_the_artifacts_section_takes_it(built, app_repository, buildspec):
    assert built.returncode == 0, built.stdout + built.stderr
    bundle = app_repository / buildspec["artifacts"]["base-directory"]
    assert buildspec["artifacts"]["files"] == ["**/*"]
    assert (bundle / "appspec.yml").read_text() == (app_repository / "app" / "appspec.yml").read_text()
    assert sorted(p.name for p in (bundle / "hooks").iterdir()) == sorted(
        p.name for p in (app_repository / "app" / "hooks").glob("*.sh"))
    assert json.loads((bundle / "image.json").read_text())["uri"] == f"{REPOSITORY_URI}@{DIGEST}"
    assert json.loads((bundle / "release.json").read_text())["commit"] == GIT_SHA
    assert json.loads((bundle / "contract" / "openapi.json").read_text()) == json.loads(
        (app_repository / "app" / "contract" / "openapi.json").read_text())
    assert not (bundle / "deploy.env").exists()  # each instance has its own


def test_the_image_build_context_in_the_repository_has_the_dockerfile_and_what_it_copies(
        built, app_repository, standins):
    assert built.returncode == 0, built.stdout + built.stderr
    (docker_build,) = [args for args in standins.commands("docker") if args[0] == "build"]
    context = app_repository / docker_build[-1]
    dockerfile = (context / "Dockerfile").read_text()
    ignored = {line.strip() for line in (context / ".dockerignore").read_text().splitlines()}
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.MULTILINE):
        for source in line.split()[:-1]:
            assert (context / source).exists(), f"the Dockerfile copies {source}, which the template does not have"
            assert source not in ignored, f"the Dockerfile copies {source}, which .dockerignore leaves out"
