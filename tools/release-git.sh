#!/usr/bin/env bash
# Git side of a promotion, for `make release-commit` and `make promotion-pr`.
#   tools/release-git.sh commit ENV        commit ENV's release record + manifests, push HEAD
#   tools/release-git.sh pr FROM TO        on branch promote/TO: promote, commit, push, open or
#                                          update the pull request, and start CI on it
# In GitHub Actions the commits are made as github-actions[bot] with the job's GITHUB_TOKEN.
set -euo pipefail

mlops="${MLOPS:-.venv/bin/mlops}"

identity() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    git config user.name "github-actions[bot]"
    git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
  fi
}

stage() {
  git add "environments/$1/release.yaml" "environments/$1/manifests"
}

version_of() {
  sed -n 's/^  version: \([0-9]*\)$/\1/p' "environments/$1/release.yaml" | head -n 1
}

case "${1:-}" in
  commit)
    env="$2"
    identity
    stage "$env"
    if git diff --cached --quiet; then
      echo "environments/$env: nothing to commit"
      exit 0
    fi
    git commit -m "release($env): version $(version_of "$env")"
    if [[ "${PUSH:-true}" == "true" ]]; then
      git push origin "HEAD:${GITHUB_REF_NAME:-$(git rev-parse --abbrev-ref HEAD)}"
    fi
    ;;
  pr)
    from="$2" to="$3" branch="promote/$3"
    identity
    git switch -C "$branch"
    "$mlops" promote --from "$from" --to "$to"
    stage "$to"
    version="$(version_of "$to")"
    git commit -m "promote($to): version $version from $from"
    git push --force origin "$branch"
    body="build/promotion-$to.md"
    mkdir -p build
    {
      echo "Promotes **version $version** from \`$from\` to \`$to\` (same artifact and digest)."
      echo
      echo '```'
      "$mlops" status
      echo '```'
      echo
      echo "Review \`environments/$to/release.yaml\` and the rendered manifests below it."
    } > "$body"
    gh pr create --base main --head "$branch" --title "promote($to): version $version" \
      --body-file "$body" || gh pr edit "$branch" --body-file "$body"
    # A pull request opened with GITHUB_TOKEN starts no workflow by itself; dispatch CI on it.
    gh workflow run ci.yml --ref "$branch"
    ;;
  *)
    echo "usage: $0 commit ENV | pr FROM TO" >&2
    exit 2
    ;;
esac
