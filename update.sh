#!/usr/bin/env bash
# Update a platequeue deployment safely:
#   1. fetch the target revision (default: the upstream of the current branch);
#   2. test it in a throwaway environment (a temporary clone + a fresh venv);
#   3. only if the tests pass: fast-forward this checkout, rebuild, migrate the
#      database, restart the services.
# If the tests fail, nothing is changed and the reason is printed.
#
# Usage: update.sh [--mode compose|systemd] [--dry-run] [--ref REF] [--remote NAME]
#                  [--repo DIR] [--force] [--keep-tmp]
#
#   --mode compose   docker compose build / run --rm migrate / up -d   (default)
#   --mode systemd   scripts/install-locked.sh into the venv (the lock file's exact,
#                    hash-checked versions) / platequeue migrate /
#                    systemctl restart platequeue.target
#   --dry-run        print every step it would take; change nothing
#   --ref REF        branch to deploy (default: the current branch)
#   --remote NAME    remote to fetch from (default: the branch's remote, else origin)
#   --repo DIR       the deployed checkout (default: the directory of this script)
#   --force          run tests and deploy even if already at the target revision
#   --keep-tmp       keep the throwaway environment for inspection
#
# Environment:
#   PLATEQUEUE_TEST_CMD      test command, run by bash in the throwaway checkout with
#                            its venv active (default: bash .ci/run)
#   PLATEQUEUE_TEST_INSTALL  install command for the throwaway venv (default: the dev
#                            lock, requirements/lock/dev.txt, then the package itself)
#   PLATEQUEUE_PYTHON        python for the throwaway venv (default: python3)
#   PLATEQUEUE_VENV_OPTS     extra `python -m venv` options (e.g. --without-pip)
#   PLATEQUEUE_VENV          systemd mode: the production venv (default /opt/platequeue/venv)
#   PLATEQUEUE_EXTRAS        systemd mode: extras to install (default: omero); each set
#                            has a lock file (scripts/lock.sh refreshes them)
#   PLATEQUEUE_SYSTEMD_TARGET  systemd mode: what to restart (default platequeue.target)
#   PLATEQUEUE_ENV_FILE      systemd mode: the units' EnvironmentFile, loaded for the
#                            migration (default /etc/platequeue/platequeue.env)
#   COMPOSE_FILE             compose mode: compose file (default: compose.yaml in the repo)
set -euo pipefail

prog=update.sh
die() { echo "$prog: ERROR: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

mode=compose
dry_run=0
ref=
remote=
repo=
force=0
keep_tmp=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --mode) mode=${2:?--mode needs compose or systemd}; shift 2 ;;
        --mode=*) mode=${1#*=}; shift ;;
        --dry-run) dry_run=1; shift ;;
        --ref) ref=${2:?--ref needs a branch}; shift 2 ;;
        --remote) remote=${2:?--remote needs a name}; shift 2 ;;
        --repo) repo=${2:?--repo needs a directory}; shift 2 ;;
        --force) force=1; shift ;;
        --keep-tmp) keep_tmp=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $mode == compose || $mode == systemd ]] || die "--mode must be compose or systemd, got '$mode'"

repo=${repo:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
repo=$(cd "$repo" && pwd) || die "no such directory: $repo"
git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$repo is not a git checkout"
cd "$repo"

test_cmd=${PLATEQUEUE_TEST_CMD:-bash .ci/run}
default_install='pip install --quiet --require-hashes --no-deps -r requirements/lock/dev.txt && pip install --quiet --no-deps -e .'
test_install=${PLATEQUEUE_TEST_INSTALL:-$default_install}
python=${PLATEQUEUE_PYTHON:-python3}
venv_opts=${PLATEQUEUE_VENV_OPTS:-}
prod_venv=${PLATEQUEUE_VENV:-/opt/platequeue/venv}
extras=${PLATEQUEUE_EXTRAS:-omero}
systemd_target=${PLATEQUEUE_SYSTEMD_TARGET:-platequeue.target}
env_file=${PLATEQUEUE_ENV_FILE:-/etc/platequeue/platequeue.env}
compose_file=${COMPOSE_FILE:-$repo/compose.yaml}

# --- what to deploy ---------------------------------------------------------------
branch=$(git symbolic-ref --quiet --short HEAD) || die "HEAD is detached; check out the deployed branch first"
ref=${ref:-$branch}
remote=${remote:-$(git config --get "branch.$branch.remote" || echo origin)}
git remote get-url "$remote" >/dev/null 2>&1 || die "no git remote '$remote'"
old=$(git rev-parse HEAD)

# The migration must see the production settings, or it would migrate a default
# (SQLite) database: check for them before anything else.
if [[ $mode == compose ]]; then
    [[ -f $compose_file ]] || die "compose file not found: $compose_file"
    [[ -f $repo/.env ]] || die "$repo/.env not found (cp templates/template.env .env and fill it in)"
else
    [[ -r $env_file ]] || die "environment file $env_file not readable (set PLATEQUEUE_ENV_FILE)"
    [[ -x $prod_venv/bin/pip ]] || die "no venv at $prod_venv (set PLATEQUEUE_VENV)"
fi

if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
    die "the checkout has local changes to tracked files; commit or stash them first (nothing changed)"
fi

# The plan, one line per step, in the order they run.
plan() {
    local target=$1
    echo "plan for $repo ($mode mode), ${old:0:12} -> ${target:0:12}:"
    echo "  1. clone ${target:0:12} into a temporary directory, create a fresh venv there"
    echo "  2. install:  $test_install"
    echo "  3. test:     $test_cmd"
    echo "  4. pull:     git merge --ff-only ${target:0:12}   (on $branch)"
    if [[ $mode == compose ]]; then
        echo "  5. rebuild:  docker compose -f $compose_file build"
        echo "  6. migrate:  docker compose -f $compose_file run --rm migrate"
        echo "  7. restart:  docker compose -f $compose_file up -d --remove-orphans"
    else
        echo "  5. rebuild:  bash scripts/install-locked.sh $prod_venv ${extras}   (requirements/lock)"
        echo "  6. migrate:  $prod_venv/bin/platequeue migrate   (with $env_file loaded)"
        echo "  7. restart:  systemctl restart $systemd_target"
    fi
    echo "  (steps 4-7 only if step 3 passes)"
}

if [[ $dry_run -eq 1 ]]; then
    # ls-remote reads the remote without touching refs, HEAD or the work tree.
    target=$(git ls-remote --exit-code "$remote" "refs/heads/$ref" | awk '{print $1}') \
        || die "branch '$ref' not found on remote '$remote'"
    if [[ $target == "$old" && $force -eq 0 ]]; then
        say "dry run: already at ${old:0:12} ($remote/$ref); nothing to do"
        exit 0
    fi
    plan "$target"
    say "dry run: nothing was changed"
    exit 0
fi

# One update at a time.
if command -v flock >/dev/null; then
    exec 9>"$(git rev-parse --git-dir)/platequeue-update.lock"
    flock -n 9 || die "another update is running"
fi

say "fetching $remote/$ref"
git fetch --quiet "$remote" "+refs/heads/$ref:refs/remotes/$remote/$ref" \
    || die "git fetch from '$remote' failed (nothing changed)"
target=$(git rev-parse "refs/remotes/$remote/$ref")
if [[ $target == "$old" && $force -eq 0 ]]; then
    say "already at ${old:0:12} ($remote/$ref); nothing to do"
    exit 0
fi
git merge-base --is-ancestor "$old" "$target" \
    || die "${target:0:12} is not a fast-forward of the deployed ${old:0:12}; refusing (nothing changed)"
plan "$target" >&2

# --- 1-3: test in a throwaway environment -----------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/platequeue-update.XXXXXX")
cleanup() {
    if [[ $keep_tmp -eq 1 ]]; then say "kept the test environment in $tmp"; else rm -rf -- "$tmp"; fi
}
trap cleanup EXIT

say "[1] cloning ${target:0:12} into $tmp/src"
git clone --quiet --shared --no-checkout "$repo" "$tmp/src" || die "could not clone $repo (nothing changed)"
git -C "$tmp/src" checkout --quiet --detach "$target" || die "could not check out ${target:0:12} (nothing changed)"
say "[1] creating a fresh venv"
# shellcheck disable=SC2086  # venv_opts is a list of options
"$python" -m venv $venv_opts "$tmp/venv" || die "could not create a venv with $python (nothing changed)"

in_test_env() {
    (cd "$tmp/src" && VIRTUAL_ENV="$tmp/venv" PATH="$tmp/venv/bin:$PATH" bash -c "$1")
}
say "[2] installing: $test_install"
in_test_env "$test_install" || die "installing ${target:0:12} in the test venv failed; nothing changed, still at ${old:0:12}"
say "[3] testing: $test_cmd"
set +e
in_test_env "$test_cmd"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
    die "tests failed for ${target:0:12} (exit $rc); nothing changed, still at ${old:0:12}"
fi
say "[3] tests passed for ${target:0:12}"

# --- 4-7: deploy ----------------------------------------------------------------------
say "[4] pulling: fast-forward $branch to ${target:0:12}"
git merge --quiet --ff-only "$target" || die "fast-forward failed; nothing changed, still at ${old:0:12}"

rollback_code() {
    say "rolling the checkout back to ${old:0:12}"
    git reset --quiet --keep "$old" || say "could not roll back; run: git -C $repo reset --keep $old"
}

say "[5] rebuilding"
if [[ $mode == compose ]]; then
    if ! docker compose -f "$compose_file" build; then
        rollback_code
        die "docker compose build failed; services untouched, checkout back at ${old:0:12}"
    fi
else
    if ! bash "$repo/scripts/install-locked.sh" "$prod_venv" "$extras"; then
        rollback_code
        die "installing into $prod_venv failed; services untouched, checkout back at ${old:0:12}"
    fi
fi

say "[6] migrating the database"
if [[ $mode == compose ]]; then
    migrate=(docker compose -f "$compose_file" run --rm migrate)
else
    # A subshell: the settings are exported to the migration only.
    # shellcheck disable=SC2016  # $1 and $2 expand in that inner shell
    migrate=(bash -c 'set -a; . "$1"; set +a; exec "$2" migrate' migrate "$env_file"
             "$prod_venv/bin/platequeue")
fi
if ! "${migrate[@]}"; then
    die "migration failed; services NOT restarted (still running the old code). Code and image are at ${target:0:12}: fix the cause and rerun $prog --force, or roll back with 'git reset --keep $old' and rebuild"
fi

say "[7] restarting"
if [[ $mode == compose ]]; then
    docker compose -f "$compose_file" up -d --remove-orphans || die "docker compose up failed; check 'docker compose ps'"
else
    systemctl restart "$systemd_target" || die "systemctl restart $systemd_target failed; check 'systemctl status $systemd_target'"
fi
say "done: ${old:0:12} -> ${target:0:12}"
