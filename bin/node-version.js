// The Node.js this project needs (package.json `engines`), checked by the launcher and the test setup before anything
// that needs it is loaded: an older Node otherwise fails deep inside a dependency (no fs.globSync) with an error that
// does not say the version is the problem.

/** Why this Node.js is too old, or undefined when it is new enough. */
export function unsupportedNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 17)) return undefined;
  return `Node.js >= 22.17 is required (24 LTS recommended); this is ${process.version} at ${process.execPath}`;
}
