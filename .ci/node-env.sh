# shellcheck shell=bash
# Source me (`source .ci/node-env.sh`): makes sure a Node >= 22.17 is first on PATH. If `node` is missing or older,
# fetches Node 24 as the npm package node-linux-<arch>@24 into a cache dir (reused when already there) and puts
# its package/bin first on PATH. npm keeps working: it runs on whatever `node` comes first on PATH.
# Cache dir: $INCOMING_NODE_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/incoming-node.
# Changes no shell options, so it is safe to source from scripts with or without `set -euo pipefail`.

# Succeeds if the node binary $1 exists and is >= 22.17.
_incoming_node_ok() {
  local v major rest minor
  v=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  major=${v%%.*}
  rest=${v#*.}
  minor=${rest%%.*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major > 22 || (major == 22 && minor >= 17)))
}

_incoming_node_env() {
  local current cache arch tmp tgz
  current=$(command -v node 2>/dev/null || true)
  if [[ -n $current ]] && _incoming_node_ok "$current"; then
    echo "node-env: using $current $(node --version)"
    return 0
  fi
  echo "node-env: ${current:-no node} $([[ -n $current ]] && node --version 2>/dev/null) is older than 22.17; using Node 24"
  cache=${INCOMING_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/incoming-node}
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node-env: unsupported architecture $(uname -m)" >&2; return 1 ;;
  esac
  if _incoming_node_ok "$cache/package/bin/node"; then
    echo "node-env: reusing $cache/package"
  else
    if ! command -v npm >/dev/null 2>&1; then
      echo "node-env: npm is needed to fetch Node 24 (npm pack node-linux-$arch@24)" >&2
      return 1
    fi
    mkdir -p "$cache" || return 1
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || return 1
    # Pack and extract in a temp dir, then move into place: an interrupted fetch leaves no half-extracted cache.
    if ! (cd "$tmp" && npm pack "node-linux-$arch@24" --loglevel=warn >/dev/null); then
      rm -rf "$tmp"
      echo "node-env: npm pack node-linux-$arch@24 failed" >&2
      return 1
    fi
    tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)
    if [[ -z $tgz ]] || ! tar -xzf "$tgz" -C "$tmp" || ! _incoming_node_ok "$tmp/package/bin/node"; then
      rm -rf "$tmp"
      echo "node-env: $cache: the fetched package has no working Node >= 22.17" >&2
      return 1
    fi
    rm -rf "$cache/package"
    mv "$tmp/package" "$cache/package" && rm -rf "$tmp" || return 1
    echo "node-env: installed $(basename "$tgz") into $cache/package"
  fi
  export PATH="$cache/package/bin:$PATH"
  hash -r
}

_incoming_node_env || {
  echo "node-env: could not provide Node >= 22.17" >&2
  return 1 2>/dev/null || exit 1
}
echo "node-env: node $(node --version) at $(command -v node), npm $(npm --version 2>/dev/null || echo missing)"
