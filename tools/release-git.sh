#!/usr/bin/env bash
# Git side of a release, for `make release-bundle`, `make release-commit` and `make promotion-pr`.
#   tools/release-git.sh version ENV [SRC]   print the version in ENV's release record
#   tools/release-git.sh bundle ENV [DEST]   copy ENV's record + manifests (and its pull request
#                                            body, if any) to DEST (default build/release), the
#                                            artifact a commit job receives
#   tools/release-git.sh sync SRC            take every environment's record + manifests from SRC
#                                            (a checkout of main) into this working tree
#   tools/release-git.sh commit ENV [SRC]    commit ENV's record + manifests from SRC (default:
#                                            this working tree) onto the remote's main and push
#   tools/release-git.sh pr FROM TO [SRC]    the same for TO, on branch promote/TO started from
#                                            the remote's main; open or update its pull request
#
# Race safety. Each environment's commit writes only environments/ENV/release.yaml and
# environments/ENV/manifests/, and is replayed onto a freshly fetched main in a throw-away
# worktree: fetch, check out origin/main, put the folder in place, commit, push. A push rejected
# because main moved (another environment's release, a person's push) is retried with backoff, so
# concurrent writers all land; the person's working tree is never touched. Replaying the folder is
# a rebase of a commit that touches only that folder, with this release winning inside it.
#
# Settings (environment): REMOTE (origin), BASE (main), PUSH (true), RETRIES (6), BACKOFF_SECONDS
# (1, doubled per retry, plus jitter), APPROVE_CI (true: the pull request was opened with
# GITHUB_TOKEN, so its CI waits for a maintainer to approve the run; false with a GitHub App
# token), GH (gh).
set -euo pipefail

remote="${REMOTE:-origin}"
base="${BASE:-main}"
gh="${GH:-gh}"

die() {
  echo "release-git: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 version ENV [SRC] | bundle ENV [DEST] | sync SRC | commit ENV [SRC] |" \
    "pr FROM TO [SRC]" >&2
  exit 2
}

check_env() {
  [[ "$1" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "release-git: not an environment name: '$1'" >&2; exit 2; }
}

# The `version:` of the `current:` release (history entries have their own, later in the file).
version_of() {
  local file="$1/environments/$2/release.yaml" version
  [[ -f "$file" ]] || die "$file: no release record (run \`mlops promote --to $2\` first)"
  version="$(awk '/^current:/ {inside = 1; next}
                  /^[^ #]/ {inside = 0}
                  inside && /^  version: *[0-9]+ *$/ {print $2; exit}' "$file")"
  [[ -n "$version" ]] || die "$file: no 'current.version' (not a release record?)"
  echo "$version"
}

identity() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    git -C "$1" config user.name "github-actions[bot]"
    git -C "$1" config user.email "41898282+github-actions[bot]@users.noreply.github.com"
  fi
}

# Copy ENV's release folder (record + manifests only: config.yaml is a person's) from $2 to $3.
copy_release() {
  local env="$1" from="$2/environments/$1" to="$3/environments/$1"
  [[ -f "$from/release.yaml" ]] || die "$from/release.yaml: no release record to commit"
  mkdir -p "$to"
  rm -rf "$to/release.yaml" "$to/manifests"
  cp "$from/release.yaml" "$to/release.yaml"
  if [[ -d "$from/manifests" ]]; then cp -R "$from/manifests" "$to/manifests"; fi
}

snapshot() {  # ENV SRC -> a private copy, so SRC may change (or be this very worktree) meanwhile
  local dir
  dir="$(mktemp -d)"
  copy_release "$1" "$2" "$dir"
  echo "$dir"
}

fresh_worktree() {  # a detached worktree at the remote's newest BASE
  local dir
  git fetch --quiet "$remote" "+refs/heads/$base:refs/remotes/$remote/$base" ||
    die "cannot fetch $base from $remote"
  dir="$(mktemp -d)"
  git worktree add --quiet --detach "$dir" "refs/remotes/$remote/$base" >/dev/null
  identity "$dir"
  echo "$dir"
}

drop_worktree() {
  git worktree remove --force "$1" >/dev/null 2>&1 || rm -rf "$1"
  git worktree prune
}

stage() {  # WORKTREE ENV: stage ENV's folder only; 0 when there is something to commit
  git -C "$1" add -A "environments/$2/release.yaml" "environments/$2/manifests" 2>/dev/null ||
    git -C "$1" add -A "environments/$2/release.yaml"
  ! git -C "$1" diff --cached --quiet
}

commit_env() {
  local env="$1" src="$2" snap attempt=1 delay="${BACKOFF_SECONDS:-1}" tries="${RETRIES:-6}"
  local version wt
  snap="$(snapshot "$env" "$src")"
  version="$(version_of "$snap" "$env")"
  while :; do
    wt="$(fresh_worktree)"
    copy_release "$env" "$snap" "$wt"
    if ! stage "$wt" "$env"; then
      echo "environments/$env: $remote/$base already holds this release; nothing to commit"
      drop_worktree "$wt"
      break
    fi
    git -C "$wt" commit --quiet -m "release($env): version $version"
    if [[ "${PUSH:-true}" != "true" ]]; then
      echo "environments/$env: committed $(git -C "$wt" rev-parse --short HEAD) (PUSH=false)"
      drop_worktree "$wt"
      break
    fi
    if git -C "$wt" push --quiet "$remote" "HEAD:refs/heads/$base"; then
      echo "environments/$env: version $version pushed to $remote/$base" \
        "($(git -C "$wt" rev-parse --short HEAD), attempt $attempt)"
      drop_worktree "$wt"
      break
    fi
    drop_worktree "$wt"
    if ((attempt >= tries)); then
      rm -rf "$snap"
      die "push of environments/$env to $remote/$base rejected $attempt times; nothing was" \
        "changed on $remote. Re-run the job (its release is in the job's artifact)."
    fi
    echo "release-git: $remote/$base moved; retrying on its new tip in ${delay}s" >&2
    sleep "$delay.$((RANDOM % 10))"
    attempt=$((attempt + 1)) delay=$((delay * 2))
  done
  rm -rf "$snap"
}

pull_request() {
  local from="$1" to="$2" src="$3" branch="promote/$2" snap version wt title body
  snap="$(snapshot "$to" "$src")"
  version="$(version_of "$snap" "$to")"
  title="promote($to): version $version from $from"
  body="$(mktemp)"
  if [[ -f "$src/build/promotion-$to.md" ]]; then
    cp "$src/build/promotion-$to.md" "$body"
  else
    {
      echo "Promotes **version $version** from \`$from\` to \`$to\` (same artifact and digest)."
      echo
      echo "Review \`environments/$to/release.yaml\` and the rendered manifests below it."
    } > "$body"
  fi
  wt="$(fresh_worktree)"
  git -C "$wt" switch --quiet -C "$branch"
  copy_release "$to" "$snap" "$wt"
  if ! stage "$wt" "$to"; then
    drop_worktree "$wt"
    rm -rf "$snap" "$body"
    echo "environments/$to: $remote/$base already holds version $version; no pull request needed"
    return 0
  fi
  git -C "$wt" commit --quiet -m "$title"
  # The branch belongs to the bot: it always restarts from the newest main.
  git -C "$wt" push --quiet --force "$remote" "$branch:refs/heads/$branch"
  drop_worktree "$wt"
  rm -rf "$snap"
  if [[ "$("$gh" pr view "$branch" --json state --jq .state 2>/dev/null || true)" == "OPEN" ]]; then
    "$gh" pr edit "$branch" --title "$title" --body-file "$body"
    echo "updated the pull request from $branch: $title"
  else
    "$gh" pr create --base "$base" --head "$branch" --title "$title" --body-file "$body"
    echo "opened a pull request from $branch: $title"
  fi
  rm -f "$body"
  if [[ "${APPROVE_CI:-true}" == "true" ]]; then
    # Since 2026-06-11 a pull request opened by github-actions[bot] runs its pull_request
    # workflows once someone with write access approves them. Nothing is dispatched: a dispatched
    # run is not attached to the pull request, and an approved one would then run CI twice.
    echo "CI on $branch waits for approval: open the pull request and click" \
      "'Approve workflows to run' (README, 'Set up on GitHub')"
  fi
}

case "${1:-}" in
  version)
    [[ $# -ge 2 ]] || usage
    check_env "$2"
    version_of "${3:-.}" "$2"
    ;;
  bundle)
    [[ $# -ge 2 ]] || usage
    check_env "$2"
    dest="${3:-build/release}"
    copy_release "$2" . "$dest"
    if [[ -f "build/promotion-$2.md" ]]; then
      mkdir -p "$dest/build"
      cp "build/promotion-$2.md" "$dest/build/"
    fi
    echo "environments/$2: release bundled in $dest"
    ;;
  sync)
    # The records as SRC (a checkout of main) holds them: a job that builds from an older tested
    # commit must start its promotion from the newest release and history, not the commit's.
    [[ $# -ge 2 ]] || usage
    for dir in "$2"/environments/*/; do
      env="$(basename "$dir")"
      if [[ -f "$dir/release.yaml" ]]; then
        copy_release "$env" "$2" .
        echo "environments/$env: release record as on $base ($(version_of . "$env"))"
      fi
    done
    ;;
  commit)
    [[ $# -ge 2 ]] || usage
    check_env "$2"
    commit_env "$2" "$(cd "${3:-.}" && pwd)"
    ;;
  pr)
    [[ $# -ge 3 ]] || usage
    check_env "$2"
    check_env "$3"
    pull_request "$2" "$3" "$(cd "${4:-.}" && pwd)"
    ;;
  *)
    usage
    ;;
esac
