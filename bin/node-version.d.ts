/** Why this Node.js is too old for the project (package.json `engines`), or undefined when it is new enough. */
export function unsupportedNode(): string | undefined;
